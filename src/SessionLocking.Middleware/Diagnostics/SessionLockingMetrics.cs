using System.Diagnostics.Metrics;

namespace SessionLocking.Diagnostics;

/// <summary>The <see cref="Meter"/> <c>SessionLocking</c> and its instruments (names in <see cref="SessionLockingTelemetry"/>, listed in docs/configuration.md).</summary>
internal sealed class SessionLockingMetrics : IDisposable
{
    private readonly Meter _meter;
    private readonly Counter<long> _locksAcquired;
    private readonly Histogram<double> _lockWait;
    private readonly Counter<long> _forcedReleases;
    private readonly Counter<long> _fencedWritesRejected;
    private readonly Counter<long> _queueRejections;
    private readonly Counter<long> _waitTimeouts;
    private readonly Counter<long> _storeFailures;
    private readonly Histogram<double> _storeDuration;
    private readonly Counter<long> _bytesRead;
    private readonly Counter<long> _bytesWritten;
    private readonly Counter<long> _abandonedLocksReleased;
    private readonly Counter<long> _sessionEndsRaised;
    private readonly Counter<long> _sessionEndFailures;
    private readonly Histogram<double> _lockHold;

    public SessionLockingMetrics(IMeterFactory meterFactory)
    {
        _meter = meterFactory.Create(SessionLockingTelemetry.MeterName);
        _locksAcquired = _meter.CreateCounter<long>(SessionLockingTelemetry.LocksAcquired, "{lock}", "Session locks taken (Required) and read-only loads that had to check the lock.");
        _lockWait = _meter.CreateHistogram<double>(SessionLockingTelemetry.LockWaitDuration, "s", "Time requests waited for a session lock.");
        _forcedReleases = _meter.CreateCounter<long>(SessionLockingTelemetry.ForcedReleases, "{lock}", "Locks force-released because they outlived the execution timeout.");
        _fencedWritesRejected = _meter.CreateCounter<long>(SessionLockingTelemetry.WritesRejected, "{write}", "Write-backs rejected because the request's lock was no longer current.");
        _queueRejections = _meter.CreateCounter<long>(SessionLockingTelemetry.QueueRejections, "{request}", "Requests rejected because the session's request queue was full.");
        _waitTimeouts = _meter.CreateCounter<long>(SessionLockingTelemetry.LockWaitTimeouts, "{request}", "Requests that waited past the lock wait timeout.");
        _storeFailures = _meter.CreateCounter<long>(SessionLockingTelemetry.StoreFailures, "{call}", "Store calls that failed.");
        _storeDuration = _meter.CreateHistogram<double>(SessionLockingTelemetry.StoreDuration, "s", "Duration of store calls, by operation.");
        _bytesRead = _meter.CreateCounter<long>(SessionLockingTelemetry.StoreBytesRead, "By", "Bytes of session items loaded from the store.");
        _abandonedLocksReleased = _meter.CreateCounter<long>(SessionLockingTelemetry.AbandonedLocksReleased, "{lock}", "Locks taken by a store call whose caller had stopped waiting for it (the client left, or the store gave up at its own timeout), released as soon as the store answered.");
        _bytesWritten = _meter.CreateCounter<long>(SessionLockingTelemetry.StoreBytesWritten, "By", "Bytes of session items written to the store.");
        _sessionEndsRaised = _meter.CreateCounter<long>(SessionLockingTelemetry.SessionEndsRaised, "{session}", "OnSessionEnd handlers that ran to completion.");
        _sessionEndFailures = _meter.CreateCounter<long>(SessionLockingTelemetry.SessionEndFailures, "{session}", "OnSessionEnd handlers that threw or hung.");
        _lockHold = _meter.CreateHistogram<double>(SessionLockingTelemetry.LockHoldDuration, "s", "Time requests held a session's exclusive lock, by endpoint route.");
    }

    public void LockAcquired(SessionStateBehavior behavior, TimeSpan waited, string? route = null)
    {
        var tag = BehaviorTag(behavior);
        _locksAcquired.Add(1, tag);
        if (route is null)
        {
            _lockWait.Record(waited.TotalSeconds, tag);
        }
        else
        {
            _lockWait.Record(waited.TotalSeconds, tag, RouteTag(route));
        }
    }

    /// <summary>An exclusive lock ended after <paramref name="held"/>; tagged with the holder's route (when it has one) and behaviour.</summary>
    public void LockHeld(SessionStateBehavior behavior, TimeSpan held, string? route)
    {
        if (route is null)
        {
            _lockHold.Record(held.TotalSeconds, BehaviorTag(behavior));
        }
        else
        {
            _lockHold.Record(held.TotalSeconds, BehaviorTag(behavior), RouteTag(route));
        }
    }

    private static KeyValuePair<string, object?> BehaviorTag(SessionStateBehavior behavior) =>
        new(SessionLockingTelemetry.BehaviorTag, behavior == SessionStateBehavior.ReadOnly ? "read_only" : "required");

    private static KeyValuePair<string, object?> RouteTag(string route) => new(SessionLockingTelemetry.RouteTag, route);

    public void ForcedRelease() => _forcedReleases.Add(1);

    public void FencedWriteRejected() => _fencedWritesRejected.Add(1);

    public void QueueRejected() => _queueRejections.Add(1);

    public void WaitTimedOut() => _waitTimeouts.Add(1);

    /// <summary>One store call: its duration by operation and outcome; failures are counted too.</summary>
    public void StoreCall(string operation, TimeSpan duration, bool failed)
    {
        var operationTag = new KeyValuePair<string, object?>(SessionLockingTelemetry.OperationTag, operation);
        if (failed)
        {
            _storeDuration.Record(duration.TotalSeconds, operationTag, new KeyValuePair<string, object?>("error.type", "store_failure"));
            _storeFailures.Add(1, operationTag);
        }
        else
        {
            _storeDuration.Record(duration.TotalSeconds, operationTag);
        }
    }

    public void BytesRead(long bytes) => _bytesRead.Add(bytes);

    public void BytesWritten(long bytes) => _bytesWritten.Add(bytes);

    public void AbandonedLockReleased() => _abandonedLocksReleased.Add(1);

    public void SessionEndRaised(SessionEndReason reason) => _sessionEndsRaised.Add(1, ReasonTag(reason));

    /// <summary>A handler that threw (<c>exception</c>) or hung (<c>hung</c>).</summary>
    public void SessionEndFailed(SessionEndReason reason, string errorType) =>
        _sessionEndFailures.Add(1, ReasonTag(reason), new KeyValuePair<string, object?>("error.type", errorType));

    public void Dispose() => _meter.Dispose();

    private static KeyValuePair<string, object?> ReasonTag(SessionEndReason reason) =>
        new(SessionLockingTelemetry.ReasonTag, reason == SessionEndReason.Abandoned ? "abandoned" : "timeout");
}
