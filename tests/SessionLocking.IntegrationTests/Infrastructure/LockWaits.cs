using System.Diagnostics.Metrics;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>
/// Counts the Required requests that had to wait for a session lock, from the middleware's
/// <c>sessionlocking.lock.wait.duration</c> histogram (a wait of zero means the lock was free). Test classes run one
/// at a time, so the waits counted while a test runs are that test's.
/// </summary>
public sealed class LockWaits : IDisposable
{
    private readonly MeterListener _listener = new();
    private int _requiredWaits;

    public LockWaits()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "SessionLocking" && instrument.Name == "sessionlocking.lock.wait.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, seconds, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "sessionlocking.behavior", Value: "required" } && seconds > 0)
                {
                    Interlocked.Increment(ref _requiredWaits);
                }
            }
        });
        _listener.Start();
    }

    /// <summary>Required requests that waited for the lock since this was created.</summary>
    public int RequiredWaits => Volatile.Read(ref _requiredWaits);

    public void Dispose() => _listener.Dispose();
}
