using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SessionLocking.Redis.Legacy;

/// <summary>Fails start-up with a message that says how to fix the options of <c>AddRedisSessionStateProviderStore</c>.</summary>
internal sealed class RedisSessionStateProviderValidation(IServiceProviderIsService? isService = null) : IValidateOptions<RedisSessionStateProviderStoreOptions>
{
    internal const string MissingConnection =
        "AddRedisSessionStateProviderStore has no Redis connection: set RedisSessionStateProviderStoreOptions.Configuration (the classic provider's connection string, " +
        "for example \"redis:6380,ssl=true,password=...\") or ConfigurationOptions, or register an IConnectionMultiplexer in the services.";

    public ValidateOptionsResult Validate(string? name, RedisSessionStateProviderStoreOptions options)
    {
        var failures = new List<string>();
        if (LegacyRedisSessionStateStore.ValidateApplicationName(options.ApplicationName) is { } problem)
        {
            failures.Add(problem);
        }

        if (options.ConfigurationOptions is null && string.IsNullOrWhiteSpace(options.Configuration)
            && isService?.IsService(typeof(StackExchange.Redis.IConnectionMultiplexer)) != true)
        {
            failures.Add(MissingConnection);
        }

        if (!Enum.IsDefined(options.Format))
        {
            failures.Add($"RedisSessionStateProviderStoreOptions.Format {options.Format} is not V4 or V5.");
        }

        if (options.LockTimeZone is null)
        {
            failures.Add("RedisSessionStateProviderStoreOptions.LockTimeZone is required (the classic servers' local time zone).");
        }

        if (options.OperationTimeout <= TimeSpan.Zero || options.ConnectTimeout <= TimeSpan.Zero || options.DefaultSessionTimeout <= TimeSpan.Zero)
        {
            failures.Add("RedisSessionStateProviderStoreOptions: OperationTimeout, ConnectTimeout and DefaultSessionTimeout must be greater than 0.");
        }

        if (options.MinReplicasAcknowledged < 0)
        {
            failures.Add($"RedisSessionStateProviderStoreOptions.MinReplicasAcknowledged must be 0 (off) or more; it is {options.MinReplicasAcknowledged}.");
        }

        if (options.MinReplicasAcknowledged > 0 && (options.ReplicaAckTimeout <= TimeSpan.Zero || options.ReplicaAckTimeout >= options.OperationTimeout))
        {
            failures.Add($"RedisSessionStateProviderStoreOptions.ReplicaAckTimeout must be greater than 0 and shorter than OperationTimeout ({options.OperationTimeout}); it is {options.ReplicaAckTimeout}. The default is \"00:00:01\".");
        }

        // The reader recurses once per nesting level: the depth is capped well below what the stack holds.
        if (options.MaxLegacyObjectBytes < 1 || options.MaxLegacyObjectDepth is < 1 or > 1000 || options.MaxLegacyObjectElements < 0)
        {
            failures.Add("RedisSessionStateProviderStoreOptions: MaxLegacyObjectBytes must be 1 or more, MaxLegacyObjectDepth from 1 to 1000, MaxLegacyObjectElements 0 or more.");
        }

        try
        {
            _ = new LegacyTypeMap(options.LegacyTypes);
        }
        catch (InvalidOperationException ex)
        {
            failures.Add(ex.Message);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
