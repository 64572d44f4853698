namespace SessionLocking.Locking;

/// <summary>
/// An exclusive holder's place in its session's queue on this server. <see cref="End"/> (once the store lock is gone:
/// written back, released, removed or found lost) lets the next waiter here know at once.
/// </summary>
internal sealed class LocalHold(SessionQueues queues, SessionWaitQueue queue, string sessionId)
{
    private int _ended;

    public void End()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            queues.EndHold(sessionId, queue);
        }
    }
}
