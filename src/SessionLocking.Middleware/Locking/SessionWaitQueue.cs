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

    /// <summary>The endpoint of the holder last seen (a request on this server that took the lock, or the store's answer); null when unknown.</summary>
    public string? HolderEndpoint { get; private set; }

    /// <summary>When (TimeProvider timestamp) that holder took the lock.</summary>
    public long HolderSince { get; private set; }

    /// <summary>True once a holder was seen.</summary>
    public bool HolderSeen { get; private set; }

    /// <summary>How many exclusive holders on this server have released (lets an acquirer see a release it raced with).</summary>
    public long Releases { get; set; }

    /// <summary>Acquirers and holders using this queue; at zero it is retired and forgotten.</summary>
    public int Users { get; set; }

    public bool Retired { get; set; }

    /// <summary>The store subscription for releases of this session, made once while the queue lives.</summary>
    public Task<IAsyncDisposable?>? Subscription { get; set; }

    /// <summary>Completes once this server listens for the session's releases (at once when it does not listen).</summary>
    public Task Listening => Subscription ?? Task.CompletedTask;

    /// <summary>A holder was seen: <paramref name="endpoint"/> took the lock at <paramref name="since"/>. Call under <see cref="Sync"/>.</summary>
    public void SawHolder(string? endpoint, long since)
    {
        HolderEndpoint = endpoint;
        HolderSince = since;
        HolderSeen = true;
    }

    /// <summary>The holder last seen, as of <paramref name="now"/>; null when none was. Call under <see cref="Sync"/>.</summary>
    public LockHolder? Holder(TimeProvider time, long now) =>
        !HolderSeen ? null : new LockHolder(HolderEndpoint, time.GetElapsedTime(HolderSince, now));

    public void Enqueue(Waiter waiter) => waiter.Node = Waiters.AddLast(waiter);

    public bool IsHead(Waiter waiter) => waiter.Node is not null && Waiters.First == waiter.Node;

    /// <summary>Takes a waiter out of the queue; when it was the head, the next one is woken to take its turn.</summary>
    public void Leave(Waiter waiter)
    {
        if (waiter.Node?.List is null)
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
