using System.Collections.Concurrent;

namespace SessionLocking.Locking;

/// <summary>
/// This server's registry of per-session queues: a queue lives while anyone on this server waits for or holds that
/// session's lock. Its release subscription begins here when its first waiter joins and ends here when the queue is
/// retired; holds on it begin and end here too.
/// </summary>
internal sealed class SessionQueues
{
    private readonly ConcurrentDictionary<string, SessionWaitQueue> _queues = new(StringComparer.Ordinal);
    private readonly ReleaseSubscriptions _subscriptions;
    private readonly bool _wakeOnLocalRelease;

    public SessionQueues(ReleaseSubscriptions subscriptions, bool wakeOnLocalRelease)
    {
        _subscriptions = subscriptions;
        _wakeOnLocalRelease = wakeOnLocalRelease;
    }

    /// <summary>Sessions with waiters or local holders right now.</summary>
    public int Count => _queues.Count;

    public bool TryGet(string sessionId, out SessionWaitQueue queue) => _queues.TryGetValue(sessionId, out queue!);

    /// <summary>Requests waiting for one session's lock on this server.</summary>
    public int WaitingCount(string sessionId)
    {
        if (!TryGet(sessionId, out var queue))
        {
            return 0;
        }

        lock (queue.Sync)
        {
            return queue.Waiters.Count;
        }
    }

    /// <summary>The session's queue, counted as used until <see cref="Return"/>.</summary>
    public SessionWaitQueue Rent(string sessionId)
    {
        while (true)
        {
            var queue = _queues.GetOrAdd(sessionId, static _ => new SessionWaitQueue());
            lock (queue.Sync)
            {
                if (!queue.Retired)
                {
                    queue.Users++;
                    return queue;
                }
            }
        }
    }

    public void Return(string sessionId, SessionWaitQueue queue)
    {
        lock (queue.Sync)
        {
            if (--queue.Users > 0)
            {
                return;
            }

            queue.Retired = true;
            _queues.TryRemove(new KeyValuePair<string, SessionWaitQueue>(sessionId, queue));
        }

        _subscriptions.End(sessionId, queue);
    }

    /// <summary>Puts <paramref name="waiter"/> at the end of its queue and listens for the session's releases. Call under the queue's lock.</summary>
    public void Join(Waiter waiter)
    {
        waiter.Queue.Enqueue(waiter);
        _subscriptions.Begin(waiter.SessionId, waiter.Queue);
    }

    /// <summary>
    /// The store gave <paramref name="waiter"/> what it asked for: it leaves the queue (a reader behind a reader goes at
    /// once; anyone behind a writer sees the local holder and waits for its release), and an exclusive one gets its
    /// hold, through which its owner lets the next waiter in.
    /// </summary>
    public LocalHold? Grant(Waiter waiter, long now, string? holderEndpoint = null)
    {
        var queue = waiter.Queue;
        lock (queue.Sync)
        {
            queue.Leave(waiter);
            if (!waiter.Exclusive)
            {
                return null;
            }

            queue.LocalHolders++;
            queue.LocalGrantedAt = now;
            queue.SawHolder(holderEndpoint, now);
            waiter.HandedOver = true;
            return new LocalHold(this, queue, waiter.SessionId);
        }
    }

    /// <summary>The holder released the lock: the head of the queue is told (when releases wake), and the hold's use of the queue ends.</summary>
    public void EndHold(string sessionId, SessionWaitQueue queue)
    {
        lock (queue.Sync)
        {
            queue.LocalHolders--;
            queue.Releases++;
            if (_wakeOnLocalRelease)
            {
                queue.WakeHead();
            }
        }

        Return(sessionId, queue);
    }

    /// <summary>A lock nobody on this server was holding was released here (an abandoned acquire's): the next waiter may go.</summary>
    public void ReleasedElsewhere(string sessionId)
    {
        if (TryGet(sessionId, out var queue))
        {
            lock (queue.Sync)
            {
                queue.Releases++;
                queue.WakeHead();
            }
        }
    }
}
