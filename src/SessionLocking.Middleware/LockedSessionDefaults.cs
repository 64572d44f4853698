namespace SessionLocking;

/// <summary>The classic defaults, in one place.</summary>
public static class LockedSessionDefaults
{
    /// <summary>The configuration section options bind from: <c>SessionState</c>.</summary>
    public const string ConfigurationSection = "SessionState";

    /// <summary>The classic cookie name, <c>ASP.NET_SessionId</c>.</summary>
    public const string CookieName = "ASP.NET_SessionId";

    /// <summary>The cookie path, <c>/</c>.</summary>
    public const string CookiePath = "/";

    /// <summary>Classic <c>sessionState timeout</c>: 20 minutes.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(20);

    /// <summary>Classic lock polling interval: 500 ms.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>Classic <c>httpRuntime executionTimeout</c>: 110 seconds.</summary>
    public static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(110);

    /// <summary>Classic <c>aspnet:RequestQueueLimitPerSession</c>: 50.</summary>
    public const int RequestQueueLimitPerSession = 50;

    /// <summary>The longest session timeout classic allowed: one year.</summary>
    public static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(525_600);

    /// <summary>Default limit of one serialized value: 1 MiB.</summary>
    public const int MaxValueBytes = 1024 * 1024;

    /// <summary>Default limit of a whole serialized session: 4 MiB.</summary>
    public const int MaxSessionBytes = 4 * 1024 * 1024;

    /// <summary>Default limit of a response held until the session is saved (HTTP/1.0, or after RegenerateId): 4 MiB.</summary>
    public const int MaxHeldResponseBytes = 4 * 1024 * 1024;

    /// <summary>Default limit of all responses held at once on one server (HTTP/1.0, RegenerateId, responses that end at their head): 256 MiB.</summary>
    public const long MaxTotalHeldResponseBytes = 256L * 1024 * 1024;

    /// <summary>Share of failed store calls that opens the store circuit breaker: 0.5.</summary>
    public const double StoreCircuitFailureRatio = 0.5;

    /// <summary>Fewest store calls in the sampling window for the circuit breaker to open: 4.</summary>
    public const int StoreCircuitMinimumThroughput = 4;

    /// <summary>Window in which the circuit breaker counts store failures: 10 seconds.</summary>
    public static readonly TimeSpan StoreCircuitSamplingDuration = TimeSpan.FromSeconds(10);

    /// <summary>How long the open circuit breaker fails store calls at once before it probes the store: 1 second.</summary>
    public static readonly TimeSpan StoreCircuitBreakDuration = TimeSpan.FromSeconds(1);

    /// <summary>How often a server looks for sessions that timed out, for <c>OnSessionEnd</c>: 5 seconds.</summary>
    public static readonly TimeSpan SessionEndSweepInterval = TimeSpan.FromSeconds(5);

    /// <summary>How many <c>OnSessionEnd</c> handlers run at once on one server: 4.</summary>
    public const int MaxConcurrentSessionEndHandlers = 4;

    /// <summary>How long one <c>OnSessionEnd</c> handler may run before it is counted as hung: 30 seconds.</summary>
    public static readonly TimeSpan SessionEndHandlerTimeout = TimeSpan.FromSeconds(30);
}
