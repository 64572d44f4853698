namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// A store that passes every call to <see cref="Inner"/>: the tests' store decorators derive from it and override
/// only the calls they change (gate, fail, race, count).
/// </summary>
public abstract class DelegatingStore(ISessionStateStore inner) : ISessionStateStore
{
    /// <summary>The store every call goes to.</summary>
    public ISessionStateStore Inner { get; } = inner;

    public virtual SessionStateMode Mode => Inner.Mode;

    public virtual ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        Inner.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);

    public virtual ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) =>
        Inner.GetSharedAsync(sessionId, cancellationToken);

    public virtual ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken) =>
        Inner.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);

    public virtual ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        Inner.ReleaseAsync(sessionId, lockId, cancellationToken);

    public virtual ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        Inner.RemoveAsync(sessionId, lockId, cancellationToken);

    public virtual ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        Inner.ForceReleaseAsync(sessionId, holderLockId, cancellationToken);

    public virtual ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        Inner.KeepAliveAsync(sessionId, cancellationToken);
}
