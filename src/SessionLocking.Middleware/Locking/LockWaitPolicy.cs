namespace SessionLocking.Locking;

/// <summary>
/// When a waiting request asks the store again: on release (<see cref="WakeOnReleasePolicy"/>, the default), or only
/// at its own poll (<see cref="ClassicPollingPolicy"/>, <see cref="LockedSessionOptions.UseReleaseNotifications"/> off).
/// Both also ask when the holder's lock reaches the execution timeout, and at the poll interval as the safety net.
/// </summary>
internal abstract class LockWaitPolicy
{
    protected LockWaitPolicy(LockedSessionOptions options, TimeProvider time)
    {
        Options = options;
        Time = time;
    }

    /// <summary>Whether releases (local, or reported by the store) wake the head of the queue (<see cref="SessionQueues"/> does it).</summary>
    public abstract bool WakesOnRelease { get; }

    protected LockedSessionOptions Options { get; }

    protected TimeProvider Time { get; }

    public static LockWaitPolicy Create(LockedSessionOptions options, TimeProvider time) =>
        options.UseReleaseNotifications ? new WakeOnReleasePolicy(options, time) : new ClassicPollingPolicy(options, time);

    /// <summary>
    /// When a waiter that became head with no store answer of its own asks first (no writer holds the lock on this
    /// server). <paramref name="releasedSinceStart"/>: a writer on this server released since the waiter started.
    /// </summary>
    public abstract long FirstAskAt(long started, long now, bool releasedSinceStart);

    /// <summary>Whether a wake-up makes the head ask the store now.</summary>
    public abstract bool WakeCounts(bool releasedSinceStart);

    /// <summary>The next ask after the store said Locked: at the poll, or sooner when the holder's lock reaches the execution timeout.</summary>
    public TimeSpan NextAskAfter(TimeSpan lockAge)
    {
        var untilExpiry = Options.ExecutionTimeout - lockAge;
        if (untilExpiry < TimeSpan.Zero)
        {
            untilExpiry = TimeSpan.Zero;
        }

        return untilExpiry < Options.PollInterval ? untilExpiry : Options.PollInterval;
    }

    public long Ticks(TimeSpan span) => (long)(span.TotalSeconds * Time.TimestampFrequency);
}
