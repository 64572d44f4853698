using System.Collections.Concurrent;
using System.Text.RegularExpressions;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// Wraps a store and records every session id the middleware hands it: a store key is built from each, so
/// any id that is not 24 characters of a-z0-5 is a violation. It also counts the calls that change stored data.
/// </summary>
public sealed partial class RecordingStore(ISessionStateStore inner) : ISessionStateStore
{
    public ConcurrentQueue<string> InvalidIds { get; } = new();

    public int Calls => _calls;

    /// <summary>Write-backs (<see cref="WriteAndReleaseAsync"/>) and removals the store was asked for.</summary>
    public int Writes => _writes;

    /// <summary>The wrapped store.</summary>
    public ISessionStateStore Inner => inner;

    private int _calls;
    private int _writes;

    public SessionStateMode Mode => inner.Mode;

    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        inner.GetExclusiveAsync(Check(sessionId), lockTimeout, createIfMissing, cancellationToken);

    public ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken) =>
        inner.GetSharedAsync(Check(sessionId), cancellationToken);

    public ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writes);
        return inner.WriteAndReleaseAsync(Check(sessionId), lockId, changes, cancellationToken);
    }

    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        inner.ReleaseAsync(Check(sessionId), lockId, cancellationToken);

    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _writes);
        return inner.RemoveAsync(Check(sessionId), lockId, cancellationToken);
    }

    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        inner.ForceReleaseAsync(Check(sessionId), holderLockId, cancellationToken);

    public ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        inner.KeepAliveAsync(Check(sessionId), cancellationToken);

    private string Check(string sessionId)
    {
        Interlocked.Increment(ref _calls);
        if (!ValidId().IsMatch(sessionId))
        {
            InvalidIds.Enqueue(sessionId);
        }

        return sessionId;
    }

    [GeneratedRegex("^[a-z0-5]{24}$")]
    private static partial Regex ValidId();
}
