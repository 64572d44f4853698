namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// A clock that moves only when a test says so. Timers (including <c>Task.Delay(…, timeProvider)</c>) fire
/// when <see cref="Advance"/> passes their due time, so time-based rules are tested without real sleeps.
/// As on a real machine, timers and timestamps follow elapsed time only: <see cref="StepWallClock"/> moves the wall
/// clock alone (NTP, a VM restored from a snapshot, an operator setting the date).
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly Lock _sync = new();
    private readonly List<ManualTimer> _timers = new();
    private DateTimeOffset _now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private long _ticks;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_sync)
        {
            return _now;
        }
    }

    public override long GetTimestamp()
    {
        lock (_sync)
        {
            return _ticks;
        }
    }

    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>Timers waiting to fire (a waiter's poll or timeout).</summary>
    public int PendingTimers
    {
        get
        {
            lock (_sync)
            {
                return _timers.Count(t => t.DueAt is not null);
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Lets time pass: the wall clock and the timestamp move together, firing due timers in order.</summary>
    public void Advance(TimeSpan by)
    {
        long target;
        lock (_sync)
        {
            target = _ticks + by.Ticks;
        }

        while (true)
        {
            ManualTimer? next;
            lock (_sync)
            {
                next = _timers.Where(t => t.DueAt is { } due && due <= target).MinBy(t => t.DueAt);
                var reached = next?.DueAt ?? target;
                _now += TimeSpan.FromTicks(reached - _ticks);
                _ticks = reached;
                if (next is null)
                {
                    return;
                }

                next.DueAt = next.Period is { } period ? _ticks + period.Ticks : null;
            }

            next.Fire();
        }
    }

    /// <summary>Steps the wall clock only (forward or back): no time passes, so the timestamp stays and no timer fires.</summary>
    public void StepWallClock(TimeSpan by)
    {
        lock (_sync)
        {
            _now += by;
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        /// <summary>The timestamp at which the timer fires next.</summary>
        public long? DueAt { get; set; }

        public TimeSpan? Period { get; private set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._sync)
            {
                if (!owner._timers.Contains(this))
                {
                    owner._timers.Add(this);
                }

                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._ticks + dueTime.Ticks;
                Period = period == Timeout.InfiniteTimeSpan || period == TimeSpan.Zero ? null : period;
            }

            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._sync)
            {
                owner._timers.Remove(this);
            }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
