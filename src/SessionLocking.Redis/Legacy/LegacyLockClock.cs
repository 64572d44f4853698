using System.Globalization;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Lock values as RedisSessionStateProvider writes and reads them: the decimal <c>DateTime.Now.Ticks</c> of the server
/// that took the lock, in the classic servers' local time zone; a lock's age is local now minus that value. Values this
/// store issues are also unique per acquisition (the write-back is fenced by them): the tick count with its last three
/// digits (100 µs) random, and never below the last value this process issued plus one.
/// </summary>
internal sealed class LegacyLockClock(TimeProvider timeProvider, TimeZoneInfo timeZone)
{
    /// <summary>The token of a holder whose lock value is not a positive 64-bit integer (the classic side counts such a lock as very old).</summary>
    public const long NonNumericHolder = -1;

    private long _last;

    /// <summary>Now, as local ticks of the classic servers' time zone.</summary>
    public long LocalTicks() =>
        TimeZoneInfo.ConvertTimeFromUtc(timeProvider.GetUtcNow().UtcDateTime, timeZone).Ticks;

    /// <summary>A new lock value: local ticks, unique, growing in this process.</summary>
    public long Next()
    {
        var now = LocalTicks();
        var candidate = now - (now % 1000) + Random.Shared.Next(1000);
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(candidate, last + 1);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>The token of a stored lock value (<see cref="NonNumericHolder"/> when it is not a positive integer).</summary>
    public static long TokenOf(string? value) =>
        long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) && ticks > 0 && value![0] != '0'
            ? ticks
            : NonNumericHolder;

    /// <summary>The age of a lock by the classic rule: local now minus its ticks; a non-numeric value is as old as the calendar.</summary>
    public TimeSpan AgeOf(long token)
    {
        var now = LocalTicks();
        return TimeSpan.FromTicks(token == NonNumericHolder ? now : now - token);
    }
}
