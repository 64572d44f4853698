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

        if (!Enum.IsDefined(options.DefaultBehavior) || options.DefaultBehavior == SessionStateBehavior.Default)
        {
            failures.Add($"SessionState:DefaultBehavior must be Required, ReadOnly or Disabled; it is {options.DefaultBehavior}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
