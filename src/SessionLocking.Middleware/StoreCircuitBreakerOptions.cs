namespace SessionLocking;

/// <summary>
/// Failing fast while the session store is down (<see cref="LockedSessionOptions.StoreCircuitBreaker"/>, bound from
/// <c>SessionState:StoreCircuitBreaker</c>). Without it every request that needs the session would wait out the store's
/// own timeout (5 s on Redis) for as long as an outage lasts. When at least <see cref="FailureRatio"/> of at least
/// <see cref="MinimumThroughput"/> calls within <see cref="SamplingDuration"/> failed, the circuit opens: calls that
/// take or read a session fail at once (503) for <see cref="BreakDuration"/>; then one call probes the store, and its
/// success closes the circuit. Calls that end a lock a request already holds (write-back, release, remove) are always
/// attempted. Failures are exceptions of the store other than a corrupt record and a cancelled call.
/// </summary>
public sealed class StoreCircuitBreakerOptions
{
    /// <summary>Whether the circuit breaker is on (true, the default).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>The share of failed calls, within <see cref="SamplingDuration"/>, that opens the circuit (0.5; more than 0, at most 1).</summary>
    public double FailureRatio { get; set; } = LockedSessionDefaults.StoreCircuitFailureRatio;

    /// <summary>The fewest calls within <see cref="SamplingDuration"/> for the circuit to open at all (4; at least 2).</summary>
    public int MinimumThroughput { get; set; } = LockedSessionDefaults.StoreCircuitMinimumThroughput;

    /// <summary>The window in which failures are counted (10 s; at least 0.5 s).</summary>
    public TimeSpan SamplingDuration { get; set; } = LockedSessionDefaults.StoreCircuitSamplingDuration;

    /// <summary>
    /// How long calls fail at once before one call probes the store again (1 s; at least 0.5 s). It bounds how long
    /// sessions stay unavailable after the store is back (plus the client's reconnect).
    /// </summary>
    public TimeSpan BreakDuration { get; set; } = LockedSessionDefaults.StoreCircuitBreakDuration;
}
