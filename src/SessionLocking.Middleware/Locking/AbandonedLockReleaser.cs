using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Lock-taking store calls are never abandoned: when the request stops waiting for one (the client left), the call
/// is watched here until the store answers, and a lock it took is released at once (logged, counted). The work is
/// bounded: each call by the store's own timeout, and at most <see cref="MaxWatched"/> calls at a time (past that,
/// the lock's time to live in the store is the bound, and a warning says so).
/// </summary>
internal sealed class AbandonedLockReleaser
{
    public const int MaxWatched = 1000;

    private readonly InstrumentedSessionStateStore _store;
    private readonly ILogger _logger;
    private readonly SessionLockingMetrics _metrics;
    private int _watched;

    public AbandonedLockReleaser(InstrumentedSessionStateStore store, ILogger<AbandonedLockReleaser> logger, SessionLockingMetrics metrics)
    {
        _store = store;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Calls being watched now (for tests).</summary>
    internal int Watched => Volatile.Read(ref _watched);

    /// <summary>
    /// Takes over <paramref name="call"/>, whose caller stopped waiting; <paramref name="released"/> runs after a lock
    /// it took was released, so that this server's waiters can go.
    /// </summary>
    public void Watch(string sessionId, Task<SessionStoreResult> call, Action released)
    {
        if (Interlocked.Increment(ref _watched) > MaxWatched)
        {
            Interlocked.Decrement(ref _watched);
            Log.AbandonedAcquireNotWatched(_logger, new SessionKey(sessionId), MaxWatched);
            return;
        }

        _ = ReleaseWhenAnsweredAsync(sessionId, call, released);
    }

    private async Task ReleaseWhenAnsweredAsync(string sessionId, Task<SessionStoreResult> call, Action released)
    {
        try
        {
            var result = await call.ConfigureAwait(false);
            if (result.Status == SessionStoreStatus.Locked || !result.HasLock)
            {
                return;
            }

            await _store.ReleaseAsync(sessionId, result.LockId, CancellationToken.None).ConfigureAwait(false);
            Log.AbandonedLockReleased(_logger, new SessionKey(sessionId), result.LockId);
            _metrics.AbandonedLockReleased();
            released();
        }
        catch (Exception ex)
        {
            // The store failed: it took no lock, or the lock expires by its time to live.
            Log.StoreFailed(_logger, ex, "release of an abandoned lock");
        }
        finally
        {
            Interlocked.Decrement(ref _watched);
        }
    }
}
