namespace SessionLocking.Locking;

/// <summary>
/// This server's view of one session's lock: the requests waiting for it, first come first served, and how
/// many requests on this server hold it. Only the head of the queue asks the store. Guarded by <see cref="Sync"/>.
/// </summary>
internal sealed class SessionWaitQueue
{
    public Lock Sync { get; } = new();

    public LinkedList<Waiter> Waiters { get; } = new();

    /// <summary>Requests on this server that hold the exclusive lock (more than one only while a force-released holder finishes).</summary>
    public int LocalHolders { get; set; }

    /// <summary>When (TimeProvider timestamp) a request on this server last took the exclusive lock.</summary>
    public long LocalGrantedAt { get; set; }

    /// <summary>How many exclusive holders on this server have released (lets an acquirer see a release it raced with).</summary>
    public long Releases { get; set; }

    /// <summary>Acquirers and holders using this queue; at zero it is retired and forgotten.</summary>
    public int Users { get; set; }

    public bool Retired { get; set; }

    /// <summary>The store subscription for releases of this session, made once while the queue lives.</summary>
    public Task<IAsyncDisposable?>? Subscription { get; set; }

    public Waiter Enqueue(bool exclusive)
    {
        var waiter = new Waiter(exclusive);
        waiter.Node = Waiters.AddLast(waiter);
        return waiter;
    }

    public bool IsHead(Waiter waiter) => Waiters.First == waiter.Node;

    /// <summary>Takes a waiter out of the queue; when it was the head, the next one is woken to take its turn.</summary>
    public void Leave(Waiter waiter)
    {
        if (waiter.Node.List is null)
        {
            return;
        }

        var wasHead = IsHead(waiter);
        Waiters.Remove(waiter.Node);
        if (wasHead)
        {
            WakeHead();
        }
    }

    public void WakeHead() => Waiters.First?.Value.Wake();
}

/// <summary>One waiting request. Its signal is re-armed after each wake so that no wake is lost between checks.</summary>
internal sealed class Waiter
{
    private TaskCompletionSource _signal = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Waiter(bool exclusive) => Exclusive = exclusive;

    public bool Exclusive { get; }

    public LinkedListNode<Waiter> Node { get; set; } = null!;

    /// <summary>
    /// The task the waiter awaits next; a fresh one once the previous wake was consumed. <paramref name="wasWoken"/>
    /// reports a wake that arrived since the last call (before the first wait, or after a wait ended by its
    /// timer), so that the caller acts on it instead of losing it. Call under the queue's lock.
    /// </summary>
    public Task Arm(out bool wasWoken)
    {
        wasWoken = _signal.Task.IsCompleted;
        if (wasWoken)
        {
            _signal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        return _signal.Task;
    }

    /// <summary>Call under the queue's lock.</summary>
    public void Wake() => _signal.TrySetResult();
}
