using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Takes session locks for requests on this server. A request that finds the lock free takes it in one store call.
/// Otherwise it joins the session's queue (<see cref="SessionQueues"/>): only the head of the queue asks the store,
/// when the <see cref="LockWaitPolicy"/> says so, and when the holder's lock reaches the execution timeout it
/// force-releases exactly that holder. Waiting never blocks a thread.
/// </summary>
internal sealed class SessionLockCoordinator
{
    private readonly SessionQueues _queues;
    private readonly ReleaseSubscriptions _subscriptions;
    private readonly LockWaitPolicy _policy;
    private readonly InstrumentedSessionStateStore _store;
    private readonly AbandonedLockReleaser _abandoned;
    private readonly LockedSessionOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly SessionLockingMetrics _metrics;

    public SessionLockCoordinator(
        SessionQueues queues,
        ReleaseSubscriptions subscriptions,
        LockWaitPolicy policy,
        InstrumentedSessionStateStore store,
        AbandonedLockReleaser abandoned,
        IOptions<LockedSessionOptions> options,
        TimeProvider time,
        ILogger<SessionLockCoordinator> logger,
        SessionLockingMetrics metrics)
    {
        _queues = queues;
        _subscriptions = subscriptions;
        _policy = policy;
        _store = store;
        _abandoned = abandoned;
        _options = options.Value;
        _time = time;
        _logger = logger;
        _metrics = metrics;
    }

    /// <summary>Sessions with waiters or local holders right now (for tests and diagnostics).</summary>
    internal int ActiveSessions => _queues.Count;

    /// <summary>Requests waiting for one session's lock on this server.</summary>
    internal int WaitingCount(string sessionId)
    {
        if (!_queues.TryGet(sessionId, out var queue))
        {
            return 0;
        }

        lock (queue.Sync)
        {
            return queue.Waiters.Count;
        }
    }

    /// <summary>
    /// Takes the exclusive lock (<see cref="SessionStateBehavior.Required"/>) or waits until no writer holds it
    /// and loads (<see cref="SessionStateBehavior.ReadOnly"/>). Store failures and cancellation are thrown; a lock the
    /// store took for an acquisition that throws is released (the one place that guarantees it).
    /// </summary>
    public async ValueTask<LockAcquisition> AcquireAsync(string sessionId, SessionStateBehavior behavior, bool createIfMissing, CancellationToken cancellationToken)
    {
        var exclusive = behavior == SessionStateBehavior.Required;
        var take = exclusive ? new LockTake() : null;
        var queue = _queues.Rent(sessionId);
        var holding = false;
        try
        {
            Waiter? waiter = null;
            long releasesBefore;
            lock (queue.Sync)
            {
                // Fair: behind anyone already waiting here, and behind a local writer without asking the store.
                if ((queue.Waiters.Count > 0 || queue.LocalHolders > 0) && !TryEnqueue(queue, sessionId, exclusive, out waiter))
                {
                    return new LockAcquisition(AcquireStatus.QueueFull, default, TimeSpan.Zero, null, sessionId);
                }

                releasesBefore = queue.Releases;
            }

            SessionStoreResult? firstAnswer = null;
            if (waiter is null)
            {
                var result = await AskStoreAsync(sessionId, take, createIfMissing, cancellationToken).ConfigureAwait(false);
                if (result.Status != SessionStoreStatus.Locked)
                {
                    // Telemetry first: if it throws, nothing is granted here yet and the lock goes to the releaser.
                    _metrics.LockAcquired(behavior, TimeSpan.Zero);
                    holding = Granted(queue, exclusive, waiter: null);
                    return new LockAcquisition(AcquireStatus.Acquired, result, TimeSpan.Zero, holding ? queue : null, sessionId);
                }

                bool releasedMeanwhile;
                lock (queue.Sync)
                {
                    if (!TryEnqueue(queue, sessionId, exclusive, out waiter))
                    {
                        return new LockAcquisition(AcquireStatus.QueueFull, default, TimeSpan.Zero, null, sessionId);
                    }

                    releasedMeanwhile = queue.Releases != releasesBefore;
                }

                // A holder on this server released between the store's answer and our joining the queue, so its
                // wake found no one: do not sleep until the poll on that stale answer, ask again as soon as we are head.
                firstAnswer = releasedMeanwhile && _policy.WakesOnRelease ? null : result;
            }

            var outcome = await WaitAsync(queue, waiter!, sessionId, behavior, take, createIfMissing, firstAnswer, releasesBefore, cancellationToken).ConfigureAwait(false);
            holding = outcome.HeldQueue is not null;
            return outcome;
        }
        catch (Exception ex) when (take is not null)
        {
            // The lock-taking call's answer never reached an owner: the client left (while the call was on its way,
            // or just as it answered), or something failed after the store answered. Whatever the store took is released.
            var clientLeft = ex is OperationCanceledException && cancellationToken.IsCancellationRequested;
            _abandoned.TakeOver(sessionId, take, clientLeft, () => WakeAfterRelease(sessionId));
            throw;
        }
        finally
        {
            if (!holding)
            {
                _queues.Return(sessionId, queue);
            }
        }
    }

    /// <summary>
    /// Called once the store lock of an exclusive acquisition was released (written back, released, removed,
    /// or found lost): lets this server's next waiter know at once.
    /// </summary>
    public void Release(LockAcquisition acquisition)
    {
        var queue = acquisition.HeldQueue;
        if (queue is null)
        {
            return;
        }

        lock (queue.Sync)
        {
            queue.LocalHolders--;
            queue.Releases++;
            _policy.OnLocalRelease(queue);
        }

        _queues.Return(acquisition.SessionId, queue);
    }

    private async ValueTask<LockAcquisition> WaitAsync(
        SessionWaitQueue queue,
        Waiter waiter,
        string sessionId,
        SessionStateBehavior behavior,
        LockTake? take,
        bool createIfMissing,
        SessionStoreResult? firstAnswer,
        long releasesBefore,
        CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        var waitLimit = _options.LockWaitTimeout ?? _options.ExecutionTimeout;
        var sessionKey = new SessionKey(sessionId);
        Log.LockWaitStarted(_logger, sessionKey, behavior);

        var nextAskAt = firstAnswer is { } answer ? started + _policy.Ticks(_policy.NextAskAfter(answer.LockAge)) : long.MaxValue;
        var wasHead = false;
        var woken = false;
        try
        {
            while (true)
            {
                Task signal;
                bool isHead;
                bool heldHere;
                bool releasedSinceStart;
                lock (queue.Sync)
                {
                    isHead = queue.IsHead(waiter);
                    heldHere = queue.LocalHolders > 0;
                    releasedSinceStart = queue.Releases != releasesBefore;
                    signal = waiter.Arm(out var pendingWake);
                    woken |= pendingWake;
                }

                var now = _time.GetTimestamp();
                if (isHead && !wasHead)
                {
                    wasHead = true;
                    if (nextAskAt == long.MaxValue)
                    {
                        // A writer on this server holds the lock: its release wakes us, so ask only at the poll, or
                        // when that writer's lock reaches the execution timeout, whichever comes first.
                        nextAskAt = heldHere
                            ? now + _policy.Ticks(_policy.NextAskAfter(_time.GetElapsedTime(queue.LocalGrantedAt)))
                            : _policy.FirstAskAt(started, now, releasedSinceStart);
                    }
                }

                if (isHead && ((woken && !heldHere && _policy.WakeCounts(releasedSinceStart)) || now >= nextAskAt))
                {
                    if (queue.Subscription is { } subscription)
                    {
                        // Listen before asking, so a release between the answer and the wait is not missed.
                        await subscription.ConfigureAwait(false);
                    }

                    var result = await AskStoreAsync(sessionId, take, createIfMissing, cancellationToken).ConfigureAwait(false);
                    if (result.Status != SessionStoreStatus.Locked)
                    {
                        // Telemetry first: if it throws, nothing is granted here yet and the lock goes to the releaser.
                        var waited = _time.GetElapsedTime(started);
                        _metrics.LockAcquired(behavior, waited);
                        Log.LockAcquiredAfterWait(_logger, sessionKey, behavior, waited.TotalMilliseconds);
                        var holding = Granted(queue, behavior == SessionStateBehavior.Required, waiter);
                        return new LockAcquisition(AcquireStatus.Acquired, result, waited, holding ? queue : null, sessionId);
                    }

                    now = _time.GetTimestamp();
                    nextAskAt = now + _policy.Ticks(_policy.NextAskAfter(result.LockAge));
                }

                var elapsed = _time.GetElapsedTime(started);
                if (elapsed >= waitLimit)
                {
                    _metrics.WaitTimedOut();
                    Log.LockWaitTimedOut(_logger, sessionKey, elapsed.TotalSeconds);
                    return new LockAcquisition(AcquireStatus.TimedOut, default, elapsed, null, sessionId);
                }

                var delay = waitLimit - elapsed;
                if (isHead)
                {
                    var untilAsk = TimeSpan.FromSeconds(Math.Max(0, nextAskAt - now) / (double)_time.TimestampFrequency);
                    delay = delay < untilAsk ? delay : untilAsk;
                }

                woken = await WaitForSignalAsync(signal, delay, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.WaitAbandonedByClient(_logger, sessionKey);
            throw;
        }
        finally
        {
            lock (queue.Sync)
            {
                queue.Leave(waiter);
            }
        }
    }

    /// <summary>
    /// One try: lock (with a <paramref name="take"/>) or read (without); if the holder's lock outlived the execution
    /// timeout, force-release that holder and try once more.
    /// </summary>
    private async ValueTask<SessionStoreResult> AskStoreAsync(string sessionId, LockTake? take, bool createIfMissing, CancellationToken cancellationToken)
    {
        for (var attempt = 0; ; attempt++)
        {
            var result = take is not null
                ? await TakeAsync(sessionId, take, createIfMissing, cancellationToken).ConfigureAwait(false)
                : await _store.GetSharedAsync(sessionId, cancellationToken).ConfigureAwait(false);
            if (result.Status != SessionStoreStatus.Locked || result.LockAge < _options.ExecutionTimeout || attempt > 0)
            {
                return result;
            }

            if (await _store.ForceReleaseAsync(sessionId, result.LockId, cancellationToken).ConfigureAwait(false))
            {
                _metrics.ForcedRelease();
                Log.LockForceReleased(_logger, new SessionKey(sessionId), result.LockId, result.LockAge.TotalSeconds);
            }
        }
    }

    /// <summary>
    /// The exclusive get, which may take a lock: it is never cancelled once sent, and its answer is recorded on
    /// <paramref name="take"/>. The caller stops waiting when the client leaves; <see cref="AcquireAsync"/> then hands
    /// the take to <see cref="AbandonedLockReleaser"/>, which releases what the call took, whenever it answers.
    /// </summary>
    private async ValueTask<SessionStoreResult> TakeAsync(string sessionId, LockTake take, bool createIfMissing, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        take.Begin();
        var call = _store.GetExclusiveAsync(sessionId, _options.ExecutionTimeout, createIfMissing, take, CancellationToken.None);
        if (call.IsCompleted)
        {
            return await call.ConfigureAwait(false);
        }

        var pending = call.AsTask();
        take.Sent(pending);
        return await pending.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A lock nobody on this server was registered for was released here: the next waiter may go.</summary>
    private void WakeAfterRelease(string sessionId)
    {
        if (_queues.TryGet(sessionId, out var queue))
        {
            lock (queue.Sync)
            {
                queue.Releases++;
                queue.WakeHead();
            }
        }
    }

    private async Task<bool> WaitForSignalAsync(Task signal, TimeSpan delay, CancellationToken cancellationToken)
    {
        if (signal.IsCompleted)
        {
            return true;
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delayTask = Task.Delay(delay, _time, timer.Token);
        var first = await Task.WhenAny(signal, delayTask).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return first == signal;
    }

    /// <summary>Records the grant; returns true when the caller now holds the exclusive lock on this server.</summary>
    private bool Granted(SessionWaitQueue queue, bool exclusive, Waiter? waiter)
    {
        lock (queue.Sync)
        {
            if (waiter is not null)
            {
                // Leaving wakes the next waiter: a reader behind a reader goes at once; anyone behind a writer
                // sees the local holder and waits for its release.
                queue.Leave(waiter);
            }

            if (exclusive)
            {
                queue.LocalHolders++;
                queue.LocalGrantedAt = _time.GetTimestamp();
            }

            return exclusive;
        }
    }

    private bool TryEnqueue(SessionWaitQueue queue, string sessionId, bool exclusive, out Waiter? waiter)
    {
        if (queue.Waiters.Count >= _options.RequestQueueLimitPerSession)
        {
            waiter = null;
            _metrics.QueueRejected();
            Log.QueueLimitExceeded(_logger, new SessionKey(sessionId), _options.RequestQueueLimitPerSession);
            return false;
        }

        waiter = queue.Enqueue(exclusive);
        _subscriptions.Begin(sessionId, queue);
        return true;
    }
}
