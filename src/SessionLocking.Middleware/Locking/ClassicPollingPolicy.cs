namespace SessionLocking.Locking;

/// <summary>
/// Classic ASP.NET: a waiter asks the store only at its own poll, every <see cref="LockedSessionOptions.PollInterval"/>
/// since it started waiting; releases do not wake it (kept for comparison and for applications that want it).
/// </summary>
internal sealed class ClassicPollingPolicy(LockedSessionOptions options, TimeProvider time) : LockWaitPolicy(options, time)
{
    public override bool WakesOnRelease => false;

    /// <summary>A writer released since we started: we do not hand over early, we ask at our next poll, as if we had polled all along.</summary>
    public override long FirstAskAt(long started, long now, bool releasedSinceStart)
    {
        if (!releasedSinceStart)
        {
            return now;
        }

        var poll = Math.Max(1, Ticks(Options.PollInterval));
        var polls = Math.Max(1, ((now - started) / poll) + 1);
        return started + (polls * poll);
    }

    /// <summary>Only a wake that is not a release (the waiter ahead left the queue) counts.</summary>
    public override bool WakeCounts(bool releasedSinceStart) => !releasedSinceStart;
}
