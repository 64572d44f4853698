namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// Wraps a store and fails the calls the test switches on, as a store that is down would (an exception): the
/// write-back (write, remove), or a plain release. Everything else passes through.
/// </summary>
public sealed class SwitchableFaultStore(ISessionStateStore inner) : ISessionStateStore
{
    /// <summary>Write-backs and removes throw.</summary>
    public volatile bool FailWriteBack;

    /// <summary>Plain releases (a lock given back without changes) throw.</summary>
    public volatile bool FailRelease;

    public int FailedCalls => _failedCalls;

    private int _failedCalls;

    public SessionStateMode Mode => inner.Mode;

    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);

    public ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) =>
        inner.GetSharedAsync(sessionId, cancellationToken);

    public ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) =>
        FailWriteBack ? Fail<bool>("write-back") : inner.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);

    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        FailRelease ? Fail<bool>("release") : inner.ReleaseAsync(sessionId, lockId, cancellationToken);

    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        FailWriteBack ? Fail<bool>("remove") : inner.RemoveAsync(sessionId, lockId, cancellationToken);

    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        inner.ForceReleaseAsync(sessionId, holderLockId, cancellationToken);

    public ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        inner.KeepAliveAsync(sessionId, cancellationToken);

    private ValueTask<T> Fail<T>(string call)
    {
        Interlocked.Increment(ref _failedCalls);
        return ValueTask.FromException<T>(new IOException($"The test store refuses the {call} (switched off by the test)."));
    }
}
