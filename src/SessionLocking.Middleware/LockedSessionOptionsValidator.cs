using Microsoft.Extensions.Options;

namespace SessionLocking;

/// <summary>Fails start-up with a message that says how to fix an option.</summary>
internal sealed class LockedSessionOptionsValidator(
    IEnumerable<SessionStoreModeRegistration> modes,
    IEnumerable<ExplicitSessionStore> explicitStores) : IValidateOptions<LockedSessionOptions>
{
    public ValidateOptionsResult Validate(string? name, LockedSessionOptions options)
    {
        var failures = new List<string>();
        if (!explicitStores.Any() && !Stores.ConfiguredStore.IsInProc(options.Mode) && Stores.ConfiguredStore.Find(options.Mode, modes) is null)
        {
            failures.Add(Stores.ConfiguredStore.UnknownMode(options.Mode, modes));
        }

        if (options.Timeout <= TimeSpan.Zero || options.Timeout > LockedSessionDefaults.MaxTimeout)
        {
            failures.Add($"SessionState:Timeout must be greater than 0 and at most one year (525600 minutes); it is {options.Timeout}. Example: \"00:20:00\".");
        }

        if (options.PollInterval <= TimeSpan.Zero)
        {
            failures.Add($"SessionState:PollInterval must be greater than 0; it is {options.PollInterval}. The classic value is \"00:00:00.500\".");
        }

        if (options.ExecutionTimeout <= TimeSpan.Zero)
        {
            failures.Add($"SessionState:ExecutionTimeout must be greater than 0; it is {options.ExecutionTimeout}. The classic value is \"00:01:50\".");
        }

        if (options.LockWaitTimeout is { } wait && wait <= TimeSpan.Zero)
        {
            failures.Add($"SessionState:LockWaitTimeout must be greater than 0 or unset; it is {wait}.");
        }

        if (options.SessionEndSweepInterval <= TimeSpan.Zero || options.SessionEndHandlerTimeout <= TimeSpan.Zero || options.MaxConcurrentSessionEndHandlers < 1)
        {
            failures.Add($"SessionState:SessionEndSweepInterval and SessionEndHandlerTimeout must be greater than 0, and MaxConcurrentSessionEndHandlers 1 or more; they are {options.SessionEndSweepInterval}, {options.SessionEndHandlerTimeout} and {options.MaxConcurrentSessionEndHandlers}. The defaults are \"00:00:05\", \"00:00:30\" and 4.");
        }

        if (options.RequestQueueLimitPerSession < 0)
        {
            failures.Add($"SessionState:RequestQueueLimitPerSession must be 0 or more; it is {options.RequestQueueLimitPerSession}. The classic value is 50.");
        }

        if (string.IsNullOrWhiteSpace(options.Cookie?.Name))
        {
            failures.Add("SessionState:Cookie:Name must not be empty. The classic value is \"ASP.NET_SessionId\".");
        }

        if (options.MaxValueBytes <= 0 || options.MaxSessionBytes <= 0)
        {
            failures.Add("SessionState:MaxValueBytes and SessionState:MaxSessionBytes must be greater than 0.");
        }

        if (options.MaxHeldResponseBytes <= 0)
        {
            failures.Add($"SessionState:MaxHeldResponseBytes must be greater than 0; it is {options.MaxHeldResponseBytes}. The default is {LockedSessionDefaults.MaxHeldResponseBytes} (4 MiB).");
        }

        if (options.MaxTotalHeldResponseBytes < options.MaxHeldResponseBytes)
        {
            failures.Add($"SessionState:MaxTotalHeldResponseBytes must be at least SessionState:MaxHeldResponseBytes ({options.MaxHeldResponseBytes}); it is {options.MaxTotalHeldResponseBytes}. The default is {LockedSessionDefaults.MaxTotalHeldResponseBytes} (256 MiB).");
        }

        if (options.StoreCircuitBreaker is { Enabled: true } breaker)
        {
            if (!(breaker.FailureRatio > 0 && breaker.FailureRatio <= 1))
            {
                failures.Add($"SessionState:StoreCircuitBreaker:FailureRatio must be more than 0 and at most 1; it is {breaker.FailureRatio}. The default is {LockedSessionDefaults.StoreCircuitFailureRatio}.");
            }

            if (breaker.MinimumThroughput < 2)
            {
                failures.Add($"SessionState:StoreCircuitBreaker:MinimumThroughput must be at least 2; it is {breaker.MinimumThroughput}. The default is {LockedSessionDefaults.StoreCircuitMinimumThroughput}.");
            }

            if (breaker.SamplingDuration < TimeSpan.FromMilliseconds(500) || breaker.BreakDuration < TimeSpan.FromMilliseconds(500))
            {
                failures.Add($"SessionState:StoreCircuitBreaker:SamplingDuration and BreakDuration must be at least 0.5 s; they are {breaker.SamplingDuration} and {breaker.BreakDuration}. To turn the breaker off, set SessionState:StoreCircuitBreaker:Enabled to false.");
            }
        }

        if (!Enum.IsDefined(options.DefaultBehavior) || options.DefaultBehavior == SessionStateBehavior.Default)
        {
            failures.Add($"SessionState:DefaultBehavior must be Required, ReadOnly or Disabled; it is {options.DefaultBehavior}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
