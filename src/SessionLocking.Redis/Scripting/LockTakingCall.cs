using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// How to undo a lock-taking script call (an acquire) that the store gave up on (cancelled, timed out, failed by the
/// client) or whose durable write too few replicas acknowledged: the rule "no lock left behind" of the store contract.
/// </summary>
/// <param name="ReleaseByOwner">
/// A fenced script that frees what this very call took, and nothing else (by the owner nonce or the lock value the call
/// proposed); its answer is 1 when it freed a lock. Sent as text right behind the abandoned call on the same connection.
/// </param>
/// <param name="ReleaseByOwnerArgs">Its arguments (its keys are the call's).</param>
/// <param name="TookLock">The lock a (late) answer of the call took, or null when it took none.</param>
/// <param name="Release">Releases a lock the call took (the store's fenced release); true when it freed it.</param>
/// <param name="LockTimeout">The lock's time to live: no clean-up waits longer (the lock has expired by then).</param>
internal sealed record LockTakingCall(
    LuaScript ReleaseByOwner,
    RedisValue[] ReleaseByOwnerArgs,
    Func<RedisResult, SessionLockId?> TookLock,
    Func<SessionLockId, ValueTask<bool>> Release,
    TimeSpan LockTimeout);
