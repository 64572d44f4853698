using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Makes every lock-taking store call, and is the one place that guarantees no lock is left behind by one: the
/// request's token goes to the store (which, by the store contract, leaves no lock when it gives up on a call), and
/// when the caller stops waiting before the store's answer reached it (the client left while the call was on its way
/// or just as it answered, or something failed after the answer) the call is taken over here, and a lock it took is
/// released as soon as the store has answered (logged, counted). The work is bounded: each call by the store's own
/// timeout, and at most <see cref="MaxWatched"/> calls at a time (past that, the lock's time to live in the store is
/// the bound, and a warning says so).
/// </summary>
internal sealed class AbandonedLockReleaser
{
    public const int MaxWatched = 1000;

    private readonly InstrumentedSessionStateStore _store;
    private readonly SessionQueues _queues;
    private readonly ILogger _logger;
    private readonly SessionLockingMetrics _metrics;
    private int _watched;

    public AbandonedLockReleaser(InstrumentedSessionStateStore store, SessionQueues queues, ILogger logger, SessionLockingMetrics metrics)
    {
        _store = store;
        _queues = queues;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Calls being watched now (for tests).</summary>
    internal int Watched => Volatile.Read(ref _watched);

    /// <summary>
    /// The exclusive get, which may take a lock; its answer is recorded on a <see cref="LockTake"/> before anything else
    /// runs. When it throws (the client left, the store failed, telemetry failed after the answer), whatever it took is
    /// released, and then this server's next waiter for the session may go.
    /// </summary>
    public async ValueTask<SessionStoreResult> TakeAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var take = new LockTake();
        try
        {
            var call = _store.GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint, take, cancellationToken);
            if (call.IsCompleted)
            {
                return await call.ConfigureAwait(false);
            }

            // A store that does not observe the token once the call is on its way must not keep the client waiting.
            var pending = call.AsTask();
            take.Sent(pending);
            return await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            TakeOver(sessionId, take, clientLeft: ex is OperationCanceledException && cancellationToken.IsCancellationRequested);
            throw;
        }
    }

    /// <summary>
    /// Takes over <paramref name="take"/>, whose acquisition ended without handing its answer to an owner;
    /// <paramref name="clientLeft"/> says why (for the log). Once a lock it took is released, this server's waiters can go.
    /// </summary>
    private void TakeOver(string sessionId, LockTake take, bool clientLeft)
    {
        if (take.InFlight is null && !take.TookLock)
        {
            return; // Nothing sent, or the store answered that the session is locked by another: nothing was taken.
        }

        if (Interlocked.Increment(ref _watched) > MaxWatched)
        {
            Interlocked.Decrement(ref _watched);
            Log.AbandonedAcquireNotWatched(_logger, new SessionKey(sessionId), MaxWatched);
            return;
        }

        _ = ReleaseWhenAnsweredAsync(sessionId, take, clientLeft);
    }

    private async Task ReleaseWhenAnsweredAsync(string sessionId, LockTake take, bool clientLeft)
    {
        try
        {
            if (take.InFlight is { } call)
            {
                await call.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (!take.TookLock && call.Exception is { } failed)
                {
                    // The store failed: it took no lock, or the lock expires by its time to live.
                    Log.StoreFailed(_logger, failed.InnerException ?? failed, "an abandoned acquire");
                    return;
                }
            }

            if (!take.TookLock)
            {
                return;
            }

            var sessionKey = new SessionKey(sessionId);
            await _store.ReleaseAsync(sessionId, take.LockId, CancellationToken.None).ConfigureAwait(false);
            if (clientLeft)
            {
                Log.AbandonedLockReleased(_logger, sessionKey, take.LockId);
            }
            else
            {
                Log.FailedAcquireLockReleased(_logger, sessionKey, take.LockId);
            }

            _metrics.AbandonedLockReleased();
            _queues.ReleasedElsewhere(sessionId);
        }
        catch (Exception ex)
        {
            // The release failed: the lock expires by its time to live.
            Log.StoreFailed(_logger, ex, "release of an abandoned lock");
        }
        finally
        {
            Interlocked.Decrement(ref _watched);
        }
    }
}
