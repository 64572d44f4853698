using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace SessionLocking.Diagnostics;

/// <summary>
/// Reports whether the session store answers: one keep-alive call for an id that cannot exist, which touches
/// no session and costs one round trip.
/// </summary>
internal sealed class SessionStoreHealthCheck : IHealthCheck
{
    // Valid in form (so stores accept it) but never issued: real ids come from 120 random bits.
    private const string ProbeId = "healthcheckprobe00000000";

    private readonly InstrumentedSessionStateStore _store;

    public SessionStoreHealthCheck(InstrumentedSessionStateStore store) => _store = store;

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await _store.KeepAliveAsync(ProbeId, cancellationToken);
            return HealthCheckResult.Healthy($"The session store ({_store.Inner.GetType().Name}) answers.");
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, $"The session store ({_store.Inner.GetType().Name}) does not answer: {ex.Message}", ex);
        }
    }
}
