using Polly.CircuitBreaker;

namespace SessionLocking.Diagnostics;

/// <summary>A store call that was not made: the store failed recently and the circuit breaker is open.</summary>
internal sealed class StoreCircuitOpenException(BrokenCircuitException inner) : Exception(
    "The session store failed recently, so this call was not made (SessionState:StoreCircuitBreaker); calls are tried again "
    + (inner.RetryAfter is { } after ? $"in {after.TotalMilliseconds:0} ms." : "soon."),
    inner);
