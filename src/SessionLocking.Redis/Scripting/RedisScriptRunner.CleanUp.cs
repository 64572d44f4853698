using SessionLocking.Diagnostics;
using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// "No lock left behind": a lock-taking call the store gave up on (the caller cancelled, the operation timeout, the
/// client failed it) may still take the lock in Redis. One mechanism for both stores undoes it.
/// </summary>
internal sealed partial class RedisScriptRunner
{
    /// <summary>At most this many clean-ups of abandoned calls run at once; beyond it, such locks expire by their TTL.</summary>
    public const int MaxCleanupsInFlight = 1_000;

    /// <summary>The longest a clean-up of an abandoned call waits for Redis.</summary>
    private static readonly TimeSpan MaxCleanupWait = TimeSpan.FromDays(1);

    private int _cleanupsInFlight;

    /// <summary>Clean-ups of abandoned calls running now (for tests).</summary>
    public int CleanupsInFlight => Volatile.Read(ref _cleanupsInFlight);

    /// <summary>The cap on clean-ups in flight: <see cref="MaxCleanupsInFlight"/>, lower in tests.</summary>
    public int CleanupLimit { get; set; } = MaxCleanupsInFlight;

    /// <summary>
    /// In the background: the call's release-by-owner is sent at once (on the same connection it queues behind the
    /// call, so Redis runs it after the call), and the call's late answer is observed; if it took a lock that is still
    /// its own, that lock is released (fenced). Both are idempotent. A lock freed so is logged
    /// (<c>RedisAbandonedLockReleased</c>) and counted (<see cref="RedisStoreInstruments.AbandonedReleasedCounter"/>).
    /// </summary>
    private void CleanUpAbandoned(IDatabase database, RedisKey[] keys, string sessionId, LockTakingCall call, Task<RedisResult> pending, string reason)
    {
        if (Interlocked.Increment(ref _cleanupsInFlight) > CleanupLimit)
        {
            Interlocked.Decrement(ref _cleanupsInFlight);
            Observe(pending);
            RedisStoreLog.AbandonedCleanupsOverLimit(_logger, new SessionKey(sessionId), CleanupLimit);
            return;
        }

        Task<RedisResult> byOwner;
        try
        {
            // Sent before this method returns, so it is queued right behind the call; as text (EVAL), because a
            // NOSCRIPT answer to EVALSHA would send the retry only after that answer, behind later requests.
            byOwner = database.ScriptEvaluateAsync(call.ReleaseByOwner.Text, keys, call.ReleaseByOwnerArgs, ToPrimary);
        }
        catch (Exception ex)
        {
            byOwner = Task.FromException<RedisResult>(ex);
        }

        // After the lock timeout a lock the call took has expired by itself: no clean-up waits longer (nor more than a day).
        var limit = call.LockTimeout < MaxCleanupWait ? call.LockTimeout : MaxCleanupWait;
        _ = FinishCleanUpAsync(sessionId, call, byOwner, pending, reason, limit);
    }

    private async Task FinishCleanUpAsync(string sessionId, LockTakingCall call, Task<RedisResult> byOwner, Task<RedisResult> pending, string reason, TimeSpan limit)
    {
        try
        {
            var released = false;
            try
            {
                // Not the operation timeout: it waits behind the call, as long as Redis holds that one.
                released = (long)(await byOwner.WaitAsync(limit, _timeProvider).ConfigureAwait(false)) == 1;
            }
            catch (Exception ex)
            {
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }

            try
            {
                var answer = await pending.WaitAsync(limit, _timeProvider).ConfigureAwait(false);
                if (call.TookLock(answer) is { } taken)
                {
                    released |= await call.Release(taken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not RedisServerException)
            {
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }
            catch (RedisServerException)
            {
                // Redis answered the call with an error: it took nothing.
            }

            if (released)
            {
                // Logged before it is counted: whoever watches the counter finds the event already written.
                RedisStoreLog.AbandonedLockReleased(_logger, new SessionKey(sessionId), reason);
                _abandonedReleased?.Add(1);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _cleanupsInFlight);
        }
    }
}
