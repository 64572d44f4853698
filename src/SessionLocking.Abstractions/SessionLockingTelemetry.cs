namespace SessionLocking.Diagnostics;

/// <summary>
/// The names SessionLocking publishes its telemetry under: the <c>SessionLocking</c> meter and its instruments, the
/// <c>SessionLocking</c> activity source and its spans and tags (described in docs/configuration.md). The middleware
/// and the stores use these, so a dashboard or a listener can too; the names are stable.
/// </summary>
public static class SessionLockingTelemetry
{
    /// <summary>The name of the meter (<c>System.Diagnostics.Metrics.Meter</c>) of every instrument below.</summary>
    public const string MeterName = "SessionLocking";

    /// <summary>The name of the activity source (<c>System.Diagnostics.ActivitySource</c>) of the spans below.</summary>
    public const string ActivitySourceName = "SessionLocking";

    /// <summary>Counter: session locks taken (Required) and read-only loads that had to check the lock; tagged with <see cref="BehaviorTag"/>.</summary>
    public const string LocksAcquired = "sessionlocking.lock.acquired";

    /// <summary>Histogram (seconds): time requests waited for a session lock; tagged with <see cref="BehaviorTag"/>.</summary>
    public const string LockWaitDuration = "sessionlocking.lock.wait.duration";

    /// <summary>Counter: locks force-released because they outlived the execution timeout.</summary>
    public const string ForcedReleases = "sessionlocking.lock.forced_releases";

    /// <summary>Counter: write-backs rejected because the request's lock was no longer current.</summary>
    public const string WritesRejected = "sessionlocking.write.rejected";

    /// <summary>Counter: requests rejected because the session's request queue was full.</summary>
    public const string QueueRejections = "sessionlocking.queue.rejections";

    /// <summary>Counter: requests that waited past the lock wait timeout.</summary>
    public const string LockWaitTimeouts = "sessionlocking.lock.wait.timeouts";

    /// <summary>Counter: store calls that failed; tagged with <see cref="OperationTag"/>.</summary>
    public const string StoreFailures = "sessionlocking.store.failures";

    /// <summary>Histogram (seconds): duration of store calls; tagged with <see cref="OperationTag"/> and, on failure, <c>error.type</c>.</summary>
    public const string StoreDuration = "sessionlocking.store.duration";

    /// <summary>Counter (bytes): session items loaded from the store.</summary>
    public const string StoreBytesRead = "sessionlocking.store.bytes_read";

    /// <summary>Counter (bytes): session items written to the store.</summary>
    public const string StoreBytesWritten = "sessionlocking.store.bytes_written";

    /// <summary>
    /// Counter: locks taken by a store call whose caller had stopped waiting for it (the client left, or the store gave
    /// up at its own timeout), released as soon as the store answered. The middleware and the stores add to it.
    /// </summary>
    public const string AbandonedLocksReleased = "sessionlocking.lock.abandoned_released";

    /// <summary>Counter (stores with durable writes): writes that too few replicas acknowledged in time.</summary>
    public const string ReplicaAckFailed = "sessionlocking.store.replica_ack_failed";

    /// <summary>Counter: <c>OnSessionEnd</c> handlers that ran to completion; tagged with <see cref="ReasonTag"/>.</summary>
    public const string SessionEndsRaised = "sessionlocking.session_end.raised";

    /// <summary>Counter: <c>OnSessionEnd</c> handlers that threw or hung; tagged with <see cref="ReasonTag"/> and <c>error.type</c> (<c>exception</c>, <c>hung</c>).</summary>
    public const string SessionEndFailures = "sessionlocking.session_end.failures";

    /// <summary>Tag: why a session ended (<c>timeout</c>, <c>abandoned</c>).</summary>
    public const string ReasonTag = "sessionlocking.end_reason";

    /// <summary>Span: taking the lock, waiting included.</summary>
    public const string AcquireActivity = "sessionlocking.acquire";

    /// <summary>Span: one load of the session (exclusive or shared get).</summary>
    public const string LoadActivity = "sessionlocking.load";

    /// <summary>Span: the write-back that releases the lock.</summary>
    public const string WriteBackActivity = "sessionlocking.write_back";

    /// <summary>Span: a release, removal or force-release; tagged with <see cref="OperationTag"/>.</summary>
    public const string ReleaseActivity = "sessionlocking.release";

    /// <summary>Tag: the session behaviour (<c>required</c>, <c>read_only</c>, ...).</summary>
    public const string BehaviorTag = "sessionlocking.behavior";

    /// <summary>Tag: how a span ended (<c>acquired</c>, <c>written</c>, <c>rejected</c>, ...).</summary>
    public const string OutcomeTag = "sessionlocking.outcome";

    /// <summary>Tag: the session's hashed key (<see cref="SessionKey"/>), never its id.</summary>
    public const string SessionTag = "sessionlocking.session";

    /// <summary>Tag: the store operation (<c>get_exclusive</c>, <c>write_and_release</c>, ...).</summary>
    public const string OperationTag = "sessionlocking.operation";

    /// <summary>
    /// Histogram (seconds): time requests held a session's exclusive lock, from taking it to its release; tagged with
    /// <see cref="BehaviorTag"/> and <see cref="RouteTag"/>.
    /// </summary>
    public const string LockHoldDuration = "sessionlocking.lock.hold.duration";

    /// <summary>
    /// Tag (OpenTelemetry HTTP semantic conventions): the route pattern of the request's endpoint, never its path, so the
    /// number of values stays bounded; on <see cref="LockWaitDuration"/> and <see cref="LockHoldDuration"/>.
    /// </summary>
    public const string RouteTag = "http.route";
}
