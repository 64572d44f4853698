using System.Globalization;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Lock values as RedisSessionStateProvider writes and reads them: the decimal <c>DateTime.Now.Ticks</c> of the server
/// that took the lock, in the classic servers' local time zone; the classic module takes a lock's age to be its own
/// local now minus that value. Local time jumps an hour at each daylight-saving switch, so this clock never subtracts
/// two local times: it reads a value back as the UTC instant it stands for and measures ages in UTC, and it writes its
/// own values so that no classic server in the zone sees them older than they are. Values this store issues are also
/// unique per acquisition (the write-back is fenced by them): the last three digits (100 µs) are random, and the UTC
/// instant behind them never repeats or goes back in this process.
/// </summary>
internal sealed class LegacyLockClock(TimeProvider timeProvider, TimeZoneInfo timeZone)
{
    /// <summary>The token of a holder whose lock value is not a positive 64-bit integer (the classic side counts such a lock as very old).</summary>
    public const long NonNumericHolder = -1;

    /// <summary>
    /// How far from now the offsets that may stand behind a live lock's value are looked up. A lock lives for the
    /// execution timeout (its TTL), minutes at most, and daylight-saving switches are months apart: a day either
    /// side of now holds every offset a live lock can have been written with, and at most one switch.
    /// </summary>
    private static readonly TimeSpan OffsetWindow = TimeSpan.FromDays(1);

    private long _lastUtc;

    /// <summary>
    /// A new lock value: a UTC instant unique in this process, written as local ticks with the largest offset the zone
    /// has between now and the lock's expiry. Before the clocks go forward that is the summer offset: a classic server
    /// then sees the lock younger than it is (never older) until the switch, and exactly its age after it; the lock
    /// still ends at its TTL. Everywhere else it is the offset of now, the classic <c>DateTime.Now.Ticks</c>.
    /// </summary>
    /// <param name="lockTimeToLive">The TTL the lock is given.</param>
    public long Next(TimeSpan lockTimeToLive)
    {
        var now = timeProvider.GetUtcNow().UtcDateTime;
        var candidate = now.Ticks - (now.Ticks % 1000) + Random.Shared.Next(1000);
        long utc;
        while (true)
        {
            var last = Volatile.Read(ref _lastUtc);
            utc = Math.Max(candidate, last + 1);
            if (Interlocked.CompareExchange(ref _lastUtc, utc, last) == last)
            {
                break;
            }
        }

        var expiry = lockTimeToLive < DateTime.MaxValue - now ? now + lockTimeToLive : DateTime.MaxValue;
        var offset = TimeSpan.FromTicks(Math.Max(timeZone.GetUtcOffset(now).Ticks, timeZone.GetUtcOffset(DateTime.SpecifyKind(expiry, DateTimeKind.Utc)).Ticks));
        return utc + offset.Ticks;
    }

    /// <summary>The token of a stored lock value (<see cref="NonNumericHolder"/> when it is not a positive integer).</summary>
    public static long TokenOf(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) && ticks > 0 && value![0] != '0'
            ? ticks
            : NonNumericHolder;

    /// <summary>
    /// The age of a lock: now minus the UTC instant its value stands for. The value is local time, which names two
    /// instants in the hour the clocks go back (and, for values of ours written ahead of a switch, an hour that local
    /// time skips): it is read under every offset the zone has a day either side of now, and the reading closest to
    /// now is the lock's (a lock lives for minutes, the readings are an hour apart). Away from a switch there is one
    /// offset, and the age is the classic rule's, local now minus the value. A non-numeric value is as old as the calendar.
    /// </summary>
    public TimeSpan AgeOf(long token)
    {
        var now = timeProvider.GetUtcNow().UtcDateTime;
        if (token == NonNumericHolder)
        {
            return TimeSpan.FromTicks(now.Ticks + timeZone.GetUtcOffset(now).Ticks);
        }

        var age = Reading(now, now, token);
        foreach (var at in new[] { now.Ticks > OffsetWindow.Ticks ? now - OffsetWindow : now, now < DateTime.MaxValue - OffsetWindow ? now + OffsetWindow : now })
        {
            var other = Reading(now, DateTime.SpecifyKind(at, DateTimeKind.Utc), token);
            if (other.Duration() < age.Duration())
            {
                age = other;
            }
        }

        return age;
    }

    /// <summary>The age of <paramref name="token"/> read with the zone's offset at <paramref name="offsetAt"/>.</summary>
    private TimeSpan Reading(DateTime now, DateTime offsetAt, long token) =>
        TimeSpan.FromTicks(now.Ticks + timeZone.GetUtcOffset(offsetAt).Ticks - token);
}
