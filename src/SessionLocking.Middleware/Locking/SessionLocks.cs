using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Hands out <see cref="SessionLock"/> owners: the coordinator takes the lock (waiting fairly when it is held), and
/// the owner is made before anything else can happen, so that no path leaves a lock behind.
/// </summary>
internal sealed class SessionLocks
{
    public SessionLocks(SessionLockCoordinator coordinator, InstrumentedSessionStateStore store, ILogger<SessionLocks> logger, SessionLockingMetrics metrics)
    {
        Coordinator = coordinator;
        Store = store;
        Logger = logger;
        Metrics = metrics;
    }

    public SessionLockCoordinator Coordinator { get; }

    public InstrumentedSessionStateStore Store { get; }

    public ILogger Logger { get; }

    public SessionLockingMetrics Metrics { get; }

    /// <summary>Takes the exclusive lock (Required) or waits for writers and loads (ReadOnly). Store failures and cancellation are thrown.</summary>
    public async ValueTask<SessionLock> AcquireAsync(string sessionId, SessionStateBehavior behavior, bool createIfMissing, CancellationToken cancellationToken) =>
        new(this, await Coordinator.AcquireAsync(sessionId, behavior, createIfMissing, cancellationToken).ConfigureAwait(false));

    /// <summary>A new session that a read-only request sees: empty, nothing asked of the store, nothing held.</summary>
    public SessionLock NewReadOnly(string sessionId) =>
        new(this, new LockAcquisition(AcquireStatus.Acquired, SessionStoreResult.NotFound(), TimeSpan.Zero, null, sessionId));
}
