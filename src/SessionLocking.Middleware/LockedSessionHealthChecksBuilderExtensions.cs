using Microsoft.Extensions.Diagnostics.HealthChecks;
using SessionLocking.Diagnostics;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the session store's health check.</summary>
public static class LockedSessionHealthChecksBuilderExtensions
{
    /// <summary>
    /// Adds a health check that reports whether the session store answers (one cheap store call):
    /// <c>builder.Services.AddHealthChecks().AddLockedSessionStore();</c>
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="failureStatus">What to report when the store does not answer (default: Unhealthy).</param>
    /// <param name="tags">Tags to filter checks by.</param>
    public static IHealthChecksBuilder AddLockedSessionStore(
        this IHealthChecksBuilder builder,
        string name = "session-store",
        HealthStatus? failureStatus = null,
        IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddCheck<SessionStoreHealthCheck>(name, failureStatus, tags ?? Array.Empty<string>());
    }
}
