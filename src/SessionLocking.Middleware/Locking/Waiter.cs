using SessionLocking.Diagnostics;

namespace SessionLocking.Locking;

/// <summary>
/// One request that wants a session's lock, and the state of its wait: its place in the session's queue on this
/// server, its signal (re-armed after each wake, so that no wake is lost between checks), and when it asks the store
/// next. The queue's fields are read under <see cref="SessionWaitQueue.Sync"/>; the rest belongs to the request.
/// </summary>
internal sealed class Waiter
{
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _wasHead;

    /// <param name="queue">The session's queue on this server.</param>
    /// <param name="sessionId">The session.</param>
    /// <param name="behavior">Required (exclusive) or ReadOnly (shared).</param>
    /// <param name="createIfMissing">Whether an exclusive acquisition creates the session.</param>
    /// <param name="waitLimit">How long the request waits before it times out (its endpoint's limit or the application's).</param>
    /// <param name="acquireStarted">When (timestamp) the acquisition started, before its first store call.</param>
    /// <param name="endpoint">The request's endpoint (recorded in the lock it takes, and tagging its wait).</param>
    public Waiter(SessionWaitQueue queue, string sessionId, SessionStateBehavior behavior, bool createIfMissing, TimeSpan waitLimit, long acquireStarted, SessionEndpointInfo endpoint = default)
    {
        Endpoint = endpoint;
        Queue = queue;
        SessionId = sessionId;
        Behavior = behavior;
        CreateIfMissing = createIfMissing;
        WaitLimit = waitLimit;
        AcquireStarted = acquireStarted;
    }

    public SessionWaitQueue Queue { get; }

    /// <summary>The request's endpoint.</summary>
    public SessionEndpointInfo Endpoint { get; }

    /// <summary>The holder this request last saw (it waited for it); null until it saw one.</summary>
    public LockHolder? Holder { get; private set; }

    public string SessionId { get; }

    public SessionKey Key => new(SessionId);

    public SessionStateBehavior Behavior { get; }

    public bool Exclusive => Behavior == SessionStateBehavior.Required;

    public bool CreateIfMissing { get; }

    /// <summary>How long the request waits before it times out.</summary>
    public TimeSpan WaitLimit { get; }

    /// <summary>When (TimeProvider timestamp) the acquisition started, before its first store call.</summary>
    public long AcquireStarted { get; }

    public LinkedListNode<Waiter>? Node { get; set; }

    /// <summary>True once the lock's owner holds the queue (a granted exclusive request): the owner returns it.</summary>
    public bool HandedOver { get; set; }

    /// <summary>The queue's release count when the request started (lets it see a release it raced with).</summary>
    public long ReleasesBefore { get; set; }

    /// <summary>The store's first answer's lock age, when the request waits on it; null when it asks as soon as it is head.</summary>
    public TimeSpan? FirstLockAge { get; set; }

    /// <summary>When (TimeProvider timestamp) the wait started.</summary>
    public long Started { get; private set; }

    /// <summary>When the head asks the store next (long.MaxValue: not decided until it becomes head).</summary>
    public long NextAskAt { get; private set; }

    /// <summary>The time of the last look at the queue or answer from the store.</summary>
    public long Now { get; private set; }

    public bool IsHead { get; private set; }

    /// <summary>A wake arrived that has not been acted on yet.</summary>
    public bool Woken { get; set; }

    /// <summary>The last look says: ask the store now.</summary>
    public bool AsksNow { get; private set; }

    public void StartWaiting(LockWaitPolicy policy, long now)
    {
        Started = now;
        NextAskAt = FirstLockAge is { } age ? now + policy.Ticks(policy.NextAskAfter(age)) : long.MaxValue;
    }

    /// <summary>
    /// Looks at the queue: whether this request is head, whether it was woken, and whether it asks the store now.
    /// Returns the signal to wait on next.
    /// </summary>
    public Task Look(LockWaitPolicy policy, TimeProvider time)
    {
        Task signal;
        bool heldHere;
        bool releasedSinceStart;
        lock (Queue.Sync)
        {
            IsHead = Queue.IsHead(this);
            heldHere = Queue.LocalHolders > 0;
            releasedSinceStart = Queue.Releases != ReleasesBefore;
            if (_signal.Task.IsCompleted)
            {
                // A wake since the last look (before the first wait, or after a wait ended by its timer): act on it.
                Woken = true;
                _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            signal = _signal.Task;
        }

        Now = time.GetTimestamp();
        if (IsHead && !_wasHead)
        {
            _wasHead = true;
            if (NextAskAt == long.MaxValue)
            {
                // A writer on this server holds the lock: its release wakes us, so ask only at the poll, or when that
                // writer's lock reaches the execution timeout, whichever comes first.
                NextAskAt = heldHere
                    ? Now + policy.Ticks(policy.NextAskAfter(time.GetElapsedTime(Queue.LocalGrantedAt)))
                    : policy.FirstAskAt(Started, Now, releasedSinceStart);
            }
        }

        AsksNow = IsHead && ((Woken && !heldHere && policy.WakeCounts(releasedSinceStart)) || Now >= NextAskAt);
        return signal;
    }

    /// <summary>The store said Locked: ask again at the poll, or when the holder's lock reaches the execution timeout.</summary>
    public void Answered(LockWaitPolicy policy, long now, TimeSpan lockAge)
    {
        Now = now;
        NextAskAt = now + policy.Ticks(policy.NextAskAfter(lockAge));
    }

    /// <summary>
    /// Sleeps until <paramref name="signal"/> (a wake), the wait limit, or (for the head) its next ask, whichever comes
    /// first; <see cref="Woken"/> says which. Throws when the client leaves.
    /// </summary>
    public async Task SleepAsync(Task signal, TimeSpan untilLimit, TimeProvider time, CancellationToken cancellationToken)
    {
        if (signal.IsCompleted)
        {
            Woken = true;
            return;
        }

        var delay = untilLimit;
        if (IsHead)
        {
            var untilAsk = TimeSpan.FromSeconds(Math.Max(0, NextAskAt - Now) / (double)time.TimestampFrequency);
            delay = delay < untilAsk ? delay : untilAsk;
        }

        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var delayTask = Task.Delay(delay, time, timer.Token);
        var first = await Task.WhenAny(signal, delayTask).ConfigureAwait(false);
        await timer.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        Woken = first == signal;
    }

    /// <summary>Notes who holds the lock now, as this server last saw it (the queue's holder, updated by the store's answers and local grants).</summary>
    public LockHolder? SeeHolder(TimeProvider time)
    {
        lock (Queue.Sync)
        {
            Holder = Queue.Holder(time, time.GetTimestamp()) ?? Holder;
        }

        return Holder;
    }

    /// <summary>Notes the holder read under the queue's lock (which the caller holds).</summary>
    public void NoteHolder(LockHolder? holder) => Holder = holder ?? Holder;

    /// <summary>Leaves the queue (if still in it); when this was the head, the next waiter is woken to take its turn.</summary>
    public void LeaveQueue()
    {
        lock (Queue.Sync)
        {
            Queue.Leave(this);
        }
    }

    /// <summary>Call under the queue's lock.</summary>
    public void Wake() => _signal.TrySetResult();
}
