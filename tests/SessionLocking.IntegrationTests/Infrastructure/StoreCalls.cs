using System.Diagnostics.Metrics;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>
/// Counts the session store calls of every app in the process, from the middleware's
/// <c>sessionlocking.store.duration</c> histogram (one measurement per call). Test classes run one at a time, so the
/// calls counted while a test runs are that test's.
/// </summary>
public sealed class StoreCalls : IDisposable
{
    private readonly MeterListener _listener = new();
    private int _count;

    public StoreCalls()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "SessionLocking" && instrument.Name == "sessionlocking.store.duration")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, _, _, _) => Interlocked.Increment(ref _count));
        _listener.Start();
    }

    /// <summary>Store calls since this was created.</summary>
    public int Count => Volatile.Read(ref _count);

    public void Dispose() => _listener.Dispose();
}
