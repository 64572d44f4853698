namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// Wraps a store and fails the calls the test switches on, as a store that is down would (an exception): the
/// write-back (write, remove), a plain release, or every call (the store is down). Everything else passes through.
/// </summary>
public sealed class SwitchableFaultStore(ISessionStateStore inner) : DelegatingStore(inner)
{
    /// <summary>Write-backs and removes throw.</summary>
    public volatile bool FailWriteBack;

    /// <summary>Plain releases (a lock given back without changes) throw.</summary>
    public volatile bool FailRelease;

    /// <summary>Every call throws: the store is down.</summary>
    public volatile bool FailAll;

    public int FailedCalls => _failedCalls;

    private int _failedCalls;

    public override ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) =>
        FailWriteBack || FailAll ? Fail<bool>("write-back") : Inner.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);

    public override ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        FailRelease || FailAll ? Fail<bool>("release") : Inner.ReleaseAsync(sessionId, lockId, cancellationToken);

    public override ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        FailWriteBack || FailAll ? Fail<bool>("remove") : Inner.RemoveAsync(sessionId, lockId, cancellationToken);

    public override ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        FailAll ? Fail<SessionStoreResult>("acquire") : Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);

    public override ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) =>
        FailAll ? Fail<SessionStoreResult>("read-only load") : Inner.GetSharedAsync(sessionId, cancellationToken);

    public override ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        FailAll ? Fail<bool>("force-release") : Inner.ForceReleaseAsync(sessionId, holderLockId, cancellationToken);

    public override ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        FailAll ? new ValueTask(Fail<bool>("keep-alive").AsTask()) : Inner.KeepAliveAsync(sessionId, cancellationToken);

    private ValueTask<T> Fail<T>(string call)
    {
        Interlocked.Increment(ref _failedCalls);
        return ValueTask.FromException<T>(new IOException($"The test store refuses the {call} (switched off by the test)."));
    }
}
