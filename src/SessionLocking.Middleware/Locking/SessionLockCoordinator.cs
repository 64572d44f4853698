using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// Takes session locks for requests on this server and hands back each lock's owner (<see cref="SessionLock"/>). A
/// request that finds the lock free takes it in one store call. Otherwise it joins the session's queue
/// (<see cref="SessionQueues"/>) and waits as a busy-wait helper does: the head of the queue asks the store once, then
/// waits for a signal (a release) or its poll (<see cref="LockWaitPolicy"/>); when the holder's lock reaches the
/// execution timeout it force-releases exactly that holder. Waiting never blocks a thread. The owner releases the lock
/// in the store and then through its <see cref="LocalHold"/>, which wakes the next waiter here.
/// </summary>
internal sealed class SessionLockCoordinator
{
    private readonly SessionQueues _queues;
    private readonly LockWaitPolicy _policy;
    private readonly AbandonedLockReleaser _abandoned;
    private readonly LockTools _tools;
    private readonly LockedSessionOptions _options;
    private readonly TimeSpan _waitLimit;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public SessionLockCoordinator(
        InstrumentedSessionStateStore store,
        IOptions<LockedSessionOptions> options,
        TimeProvider time,
        ILoggerFactory loggers,
        SessionLockingMetrics metrics,
        ISessionReleaseNotifications? notifications = null)
    {
        _options = options.Value;
        _waitLimit = _options.LockWaitTimeout ?? _options.ExecutionTimeout;
        _time = time;
        _logger = loggers.CreateLogger<SessionLockCoordinator>();
        _policy = LockWaitPolicy.Create(_options, time);
        var subscriptions = new ReleaseSubscriptions(_policy.WakesOnRelease ? notifications : null, loggers.CreateLogger<ReleaseSubscriptions>());
        _queues = new SessionQueues(subscriptions, _policy.WakesOnRelease);
        _abandoned = new AbandonedLockReleaser(store, _queues, loggers.CreateLogger<AbandonedLockReleaser>(), metrics);
        _tools = new LockTools(store, loggers.CreateLogger<SessionLock>(), metrics);
    }

    /// <summary>Sessions with waiters or local holders right now (for tests and diagnostics).</summary>
    internal int ActiveSessions => _queues.Count;

    /// <summary>Abandoned lock-taking calls being watched now (for tests).</summary>
    internal int AbandonedCallsWatched => _abandoned.Watched;

    /// <summary>Requests waiting for one session's lock on this server.</summary>
    internal int WaitingCount(string sessionId) => _queues.WaitingCount(sessionId);

    /// <summary>
    /// Takes the exclusive lock (<see cref="SessionStateBehavior.Required"/>) or waits until no writer holds it and loads
    /// (<see cref="SessionStateBehavior.ReadOnly"/>); returns the lock's owner, which the caller disposes. Store
    /// failures and cancellation are thrown; a lock a store call took for an acquisition that throws is released
    /// (<see cref="AbandonedLockReleaser"/> for the call, the owner from the moment it is made).
    /// </summary>
    public ValueTask<SessionLock> AcquireAsync(string sessionId, SessionStateBehavior behavior, bool createIfMissing, CancellationToken cancellationToken) =>
        AcquireAsync(sessionId, behavior, createIfMissing, waitLimit: null, cancellationToken);

    /// <summary>
    /// <see cref="AcquireAsync(string, SessionStateBehavior, bool, CancellationToken)"/> with the endpoint's own wait
    /// limit (<see cref="ISessionStateMetadata.LockWaitTimeout"/>); null: the application's.
    /// </summary>
    public ValueTask<SessionLock> AcquireAsync(string sessionId, SessionStateBehavior behavior, bool createIfMissing, TimeSpan? waitLimit, CancellationToken cancellationToken) =>
        AcquireAsync(sessionId, behavior, createIfMissing, waitLimit, endpoint: default, cancellationToken);

    /// <summary>
    /// <see cref="AcquireAsync(string, SessionStateBehavior, bool, TimeSpan?, CancellationToken)"/> for a request to
    /// <paramref name="endpoint"/>: its name goes into the lock it takes (so waiters can name it), and its route tags its
    /// wait and hold durations.
    /// </summary>
    public async ValueTask<SessionLock> AcquireAsync(string sessionId, SessionStateBehavior behavior, bool createIfMissing, TimeSpan? waitLimit, SessionEndpointInfo endpoint, CancellationToken cancellationToken)
    {
        var waiter = new Waiter(_queues.Rent(sessionId), sessionId, behavior, createIfMissing, waitLimit ?? _waitLimit, _time.GetTimestamp(), endpoint);
        try
        {
            bool behindOthers;
            lock (waiter.Queue.Sync)
            {
                // Fair: behind anyone already waiting here, and behind a local writer without asking the store.
                waiter.ReleasesBefore = waiter.Queue.Releases;
                behindOthers = waiter.Queue.Waiters.Count > 0 || waiter.Queue.LocalHolders > 0;
                if (behindOthers && !TryJoin(waiter))
                {
                    return QueueFull(waiter);
                }
            }

            if (!behindOthers)
            {
                // The store's first answer is awaited here, not through AskStoreAsync: one async layer less on the path
                // of nearly every request (with Redis every call completes asynchronously).
                var result = await AskOnceAsync(waiter, cancellationToken).ConfigureAwait(false);
                if (result.Status == SessionStoreStatus.Locked)
                {
                    result = await AnsweredLockedAsync(waiter, result, cancellationToken).ConfigureAwait(false);
                }

                if (result.Status != SessionStoreStatus.Locked)
                {
                    return await GrantAsync(waiter, result, TimeSpan.Zero, waiter.AcquireStarted, afterWait: false).ConfigureAwait(false);
                }

                lock (waiter.Queue.Sync)
                {
                    if (!TryJoin(waiter))
                    {
                        return QueueFull(waiter);
                    }

                    // A holder on this server released between the store's answer and our joining the queue, so its wake
                    // found no one: do not sleep until the poll on that stale answer, ask again as soon as we are head.
                    var releasedMeanwhile = waiter.Queue.Releases != waiter.ReleasesBefore;
                    waiter.FirstLockAge = releasedMeanwhile && _policy.WakesOnRelease ? null : result.LockAge;
                }
            }

            return await WaitAsync(waiter, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (!waiter.HandedOver)
            {
                _queues.Return(sessionId, waiter.Queue);
            }
        }
    }

    /// <summary>
    /// The wait: look at the queue; the head asks the store when it is its turn (listening for releases first, so that
    /// one between the answer and the sleep is not missed); then sleep until a signal or the next ask.
    /// </summary>
    private async ValueTask<SessionLock> WaitAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        Log.LockWaitStarted(_logger, waiter.Key, waiter.Behavior);
        waiter.StartWaiting(_policy, _time.GetTimestamp());
        try
        {
            while (true)
            {
                var signal = waiter.Look(_policy, _time);
                if (waiter.AsksNow)
                {
                    await waiter.Queue.Listening.ConfigureAwait(false);
                    var asked = _time.GetTimestamp();
                    var result = await AskStoreAsync(waiter, cancellationToken).ConfigureAwait(false);
                    if (result.Status != SessionStoreStatus.Locked)
                    {
                        return await GrantAsync(waiter, result, _time.GetElapsedTime(waiter.Started), asked, afterWait: true).ConfigureAwait(false);
                    }

                    waiter.Answered(_policy, _time.GetTimestamp(), result.LockAge);
                }

                var elapsed = _time.GetElapsedTime(waiter.Started);
                if (elapsed >= waiter.WaitLimit)
                {
                    return TimedOut(waiter, elapsed);
                }

                await waiter.SleepAsync(signal, waiter.WaitLimit - elapsed, _time, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Log.WaitAbandonedByClient(_logger, waiter.Key);
            throw;
        }
        finally
        {
            waiter.LeaveQueue();
        }
    }

    /// <summary>
    /// One try: lock (exclusive) or read (shared); if the holder's lock outlived the execution timeout, force-release
    /// that holder and try once more.
    /// </summary>
    private async ValueTask<SessionStoreResult> AskStoreAsync(Waiter waiter, CancellationToken cancellationToken)
    {
        var result = await AskOnceAsync(waiter, cancellationToken).ConfigureAwait(false);
        return result.Status == SessionStoreStatus.Locked ? await AnsweredLockedAsync(waiter, result, cancellationToken).ConfigureAwait(false) : result;
    }

    /// <summary>One store call: lock (exclusive) or read (shared).</summary>
    private ValueTask<SessionStoreResult> AskOnceAsync(Waiter waiter, CancellationToken cancellationToken) =>
        waiter.Exclusive
            ? _abandoned.TakeAsync(waiter.SessionId, _options.ExecutionTimeout, waiter.CreateIfMissing, waiter.Endpoint.Name, cancellationToken)
            : _tools.Store.GetSharedAsync(waiter.SessionId, cancellationToken);

    /// <summary>
    /// The store answered that the session is locked: remember the holder; if its lock outlived the execution timeout,
    /// force-release it and ask once more.
    /// </summary>
    private async ValueTask<SessionStoreResult> AnsweredLockedAsync(Waiter waiter, SessionStoreResult result, CancellationToken cancellationToken)
    {
        SawHolder(waiter, result);
        if (result.LockAge < _options.ExecutionTimeout)
        {
            return result;
        }

        if (await _tools.Store.ForceReleaseAsync(waiter.SessionId, result.LockId, cancellationToken).ConfigureAwait(false))
        {
            _tools.Metrics.ForcedRelease();
            var holder = new LockHolder(result.HolderEndpoint, result.LockAge);
            Log.LockForceReleased(_logger, waiter.Key, result.LockId, result.LockAge.TotalSeconds, holder.Display);
        }

        result = await AskOnceAsync(waiter, cancellationToken).ConfigureAwait(false);
        if (result.Status == SessionStoreStatus.Locked)
        {
            SawHolder(waiter, result);
        }

        return result;
    }

    /// <summary>The store said who holds the lock: this server's queue remembers it (for the requests behind, and for the answers).</summary>
    private void SawHolder(Waiter waiter, SessionStoreResult result)
    {
        var now = _time.GetTimestamp();
        lock (waiter.Queue.Sync)
        {
            // A holder on this server is known by its own endpoint, which a store that cannot record it (the legacy
            // provider's, a custom one) does not replace with its generic answer.
            var queue = waiter.Queue;
            var endpoint = queue.LocalHolders > 0 ? queue.HolderEndpoint ?? result.HolderEndpoint : result.HolderEndpoint;
            queue.SawHolder(endpoint, now - (long)(result.LockAge.TotalSeconds * _time.TimestampFrequency));
        }
    }

    /// <summary>The store gave the request what it asked for: the owner is made first, so that nothing after it can strand the lock.</summary>
    /// <param name="waiter">The request.</param>
    /// <param name="result">The store's answer.</param>
    /// <param name="waited">How long the request waited in the queue.</param>
    /// <param name="asked">When (timestamp) the store call that answered was sent: the session's load time starts there.</param>
    /// <param name="afterWait">The request waited.</param>
    private async ValueTask<SessionLock> GrantAsync(Waiter waiter, SessionStoreResult result, TimeSpan waited, long asked, bool afterWait)
    {
        var holder = afterWait ? waiter.SeeHolder(_time) : null;
        var now = _time.GetTimestamp();
        var owner = new SessionLock(waiter.SessionId, AcquireStatus.Acquired, result, waited, _queues.Grant(waiter, now, waiter.Endpoint.Name), _tools)
        {
            AcquireTime = _time.GetElapsedTime(waiter.AcquireStarted, now),
            LoadTime = _time.GetElapsedTime(asked, now),
            Holder = holder,
            Route = waiter.Endpoint.Route,
            Behavior = waiter.Behavior,
            GrantedAt = now,
            Time = _time,
        };
        try
        {
            _tools.Metrics.LockAcquired(waiter.Behavior, waited, waiter.Endpoint.Route);
            if (afterWait)
            {
                Log.LockAcquiredAfterWait(_logger, waiter.Key, waiter.Behavior, waited.TotalMilliseconds);
            }
        }
        catch
        {
            await owner.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return owner;
    }

    private SessionLock TimedOut(Waiter waiter, TimeSpan elapsed)
    {
        _tools.Metrics.WaitTimedOut();
        var holder = waiter.SeeHolder(_time);
        Log.LockWaitTimedOut(_logger, waiter.Key, elapsed.TotalSeconds, holder?.Display ?? "another request", holder?.Held.TotalSeconds ?? 0);
        return NotAcquired(waiter, AcquireStatus.TimedOut, elapsed, holder);
    }

    private SessionLock NotAcquired(Waiter waiter, AcquireStatus status, TimeSpan waited, LockHolder? holder) =>
        new(waiter.SessionId, status, default, waited, hold: null, _tools) { AcquireTime = _time.GetElapsedTime(waiter.AcquireStarted), Holder = holder };

    /// <summary>The queue is full: the request is turned away naming the holder this server last saw.</summary>
    private SessionLock QueueFull(Waiter waiter) => NotAcquired(waiter, AcquireStatus.QueueFull, TimeSpan.Zero, waiter.Holder);

    /// <summary>Joins the queue unless it is full. Call under the queue's lock.</summary>
    private bool TryJoin(Waiter waiter)
    {
        if (waiter.Queue.Waiters.Count >= _options.RequestQueueLimitPerSession)
        {
            _tools.Metrics.QueueRejected();
            var holder = waiter.Queue.Holder(_time, _time.GetTimestamp());
            waiter.NoteHolder(holder);
            Log.QueueLimitExceeded(_logger, waiter.Key, _options.RequestQueueLimitPerSession, holder?.Display ?? "another request", holder?.Held.TotalSeconds ?? 0);
            return false;
        }

        _queues.Join(waiter);
        return true;
    }

    /// <summary>A new session that a read-only request sees: empty, nothing asked of the store, nothing held.</summary>
    public SessionLock NewReadOnly(string sessionId) =>
        new(sessionId, AcquireStatus.Acquired, SessionStoreResult.NotFound(), TimeSpan.Zero, hold: null, _tools);
}
