namespace SessionLocking.Diagnostics;

/// <summary>A store call that was not made: the store failed recently and the circuit breaker is open.</summary>
/// <param name="retryAfter">How long until a call probes the store again; null while a probe is under way.</param>
internal sealed class StoreCircuitOpenException(TimeSpan? retryAfter) : Exception(
    "The session store failed recently, so this call was not made (SessionState:StoreCircuitBreaker); calls are tried again "
    + (retryAfter is { } after ? $"in {after.TotalMilliseconds:0} ms." : "soon."))
{
    /// <summary>How long until a call probes the store again; null while a probe is under way.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}
