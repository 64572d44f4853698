namespace MvcApp.Services;

/// <summary>
/// Milliseconds since the application started, from the monotonic clock (never the wall clock), so that
/// the start and end of concurrent requests can be compared with each other.
/// </summary>
public sealed class AppClock
{
    private readonly long _started = TimeProvider.System.GetTimestamp();

    /// <summary>Milliseconds since start, with sub-millisecond precision.</summary>
    public double NowMs => Math.Round(TimeProvider.System.GetElapsedTime(_started).TotalMilliseconds, 3);
}
