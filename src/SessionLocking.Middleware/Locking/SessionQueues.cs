using System.Collections.Concurrent;

namespace SessionLocking.Locking;

/// <summary>
/// This server's registry of per-session queues: a queue lives while anyone on this server waits for or holds that
/// session's lock, and is forgotten (its release subscription ended) once nobody uses it.
/// </summary>
internal sealed class SessionQueues
{
    private readonly ConcurrentDictionary<string, SessionWaitQueue> _queues = new(StringComparer.Ordinal);
    private readonly ReleaseSubscriptions _subscriptions;

    public SessionQueues(ReleaseSubscriptions subscriptions) => _subscriptions = subscriptions;

    /// <summary>Sessions with waiters or local holders right now.</summary>
    public int Count => _queues.Count;

    public bool TryGet(string sessionId, out SessionWaitQueue queue) => _queues.TryGetValue(sessionId, out queue!);

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
}
