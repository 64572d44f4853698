using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>Left in DI by <c>AddRedisStore</c>: a Redis store was registered in code.</summary>
/// <param name="PreferServiceMultiplexer">True for <c>AddRedisStore()</c>: use the application's <see cref="IConnectionMultiplexer"/> when it registered one.</param>
internal sealed record RedisStoreRegistration(bool PreferServiceMultiplexer);

/// <summary>Builds the Redis store of <c>AddRedisStore</c> and of the configuration mode <c>Redis</c>.</summary>
internal static class SessionStoreFactory
{
    /// <summary>A Redis store: on the application's multiplexer when asked for and registered, else on its own connection.</summary>
    public static RedisSessionStateStore CreateRedis(IServiceProvider services, bool preferServiceMultiplexer)
    {
        var options = services.GetRequiredService<IOptions<RedisSessionStoreOptions>>().Value;
        var loggerFactory = services.GetService<ILoggerFactory>();
        var meterFactory = services.GetService<IMeterFactory>();
        var timeProvider = services.GetService<TimeProvider>();
        if (preferServiceMultiplexer && services.GetService<IConnectionMultiplexer>() is { } multiplexer)
        {
            return new RedisSessionStateStore(multiplexer, options, loggerFactory, meterFactory, timeProvider);
        }

        if (!RedisOptionsValidator.HasOwnConnection(options))
        {
            throw new InvalidOperationException(RedisOptionsValidator.MissingConfiguration);
        }

        return new RedisSessionStateStore(options, loggerFactory, meterFactory, timeProvider);
    }
}

/// <summary>Fails start-up with a message that says how to fix the Redis store's configuration.</summary>
/// <remarks>
/// Runs when the Redis store is in use: at start-up after <c>AddRedisStore</c>, and when configuration chooses the
/// mode <c>Redis</c> (the middleware builds its store at start-up).
/// </remarks>
internal sealed class RedisOptionsValidator : IValidateOptions<RedisSessionStoreOptions>
{
    internal const string MissingConfiguration =
        "The Redis session store has no connection: set SessionState:Redis:Configuration to the Redis server, for example " +
        "the environment variable SessionState__Redis__Configuration=127.0.0.1:6379, or in appsettings.json " +
        "\"SessionState\": { \"Mode\": \"Redis\", \"Redis\": { \"Configuration\": \"127.0.0.1:6379\" } }; " +
        "or call AddLockedSession().AddRedisStore(\"127.0.0.1:6379\") or AddRedisStore(configurationOptions), or set " +
        "RedisSessionStoreOptions.ConnectionMultiplexerFactory, or register an IConnectionMultiplexer and call AddRedisStore(); " +
        "or set SessionState:Mode to InProc to keep sessions in memory.";

    private readonly RedisStoreRegistration? _registration;
    private readonly IServiceProviderIsService? _isService;

    public RedisOptionsValidator(IEnumerable<RedisStoreRegistration> registrations, IServiceProviderIsService? isService = null)
    {
        _registration = registrations.LastOrDefault();
        _isService = isService;
    }

    /// <summary>True when the options say how the store connects by itself: a factory, client options or a configuration string.</summary>
    internal static bool HasOwnConnection(RedisSessionStoreOptions options) =>
        options.ConnectionMultiplexerFactory is not null
        || options.ConfigurationOptions is not null
        || !string.IsNullOrWhiteSpace(options.Configuration);

    public ValidateOptionsResult Validate(string? name, RedisSessionStoreOptions redis)
    {
        var failures = new List<string>();
        var usesServiceMultiplexer = _registration is { PreferServiceMultiplexer: true }
            && _isService?.IsService(typeof(IConnectionMultiplexer)) == true;
        if (!usesServiceMultiplexer && !HasOwnConnection(redis))
        {
            failures.Add(MissingConfiguration);
        }
        else if (!usesServiceMultiplexer && redis.ConnectionMultiplexerFactory is null && redis.ConfigurationOptions is null)
        {
            try
            {
                _ = ConfigurationOptions.Parse(redis.Configuration!);
            }
            catch (ArgumentException ex)
            {
                failures.Add($"SessionState:Redis:Configuration is not a valid StackExchange.Redis configuration string: {ex.Message}");
            }
        }

        if (RedisSessionKeys.ValidatePrefix(redis.KeyPrefix) is { } problem)
        {
            failures.Add(problem);
        }

        if (redis.OperationTimeout <= TimeSpan.Zero)
        {
            failures.Add($"SessionState:Redis:OperationTimeout must be greater than 0; it is {redis.OperationTimeout}. The default is \"00:00:05\".");
        }

        if (redis.MinReplicasAcknowledged < 0)
        {
            failures.Add($"SessionState:Redis:MinReplicasAcknowledged must be 0 (off) or more; it is {redis.MinReplicasAcknowledged}.");
        }

        if (redis.MinReplicasAcknowledged > 0 && (redis.ReplicaAckTimeout <= TimeSpan.Zero || redis.ReplicaAckTimeout >= redis.OperationTimeout))
        {
            failures.Add($"SessionState:Redis:ReplicaAckTimeout must be greater than 0 and shorter than OperationTimeout ({redis.OperationTimeout}); it is {redis.ReplicaAckTimeout}. The default is \"00:00:01\".");
        }

        if (redis.ConnectTimeout <= TimeSpan.Zero)
        {
            failures.Add($"SessionState:Redis:ConnectTimeout must be greater than 0; it is {redis.ConnectTimeout}. The default is \"00:00:05\".");
        }

        if (redis.SessionCacheSize < 0)
        {
            failures.Add($"SessionState:Redis:SessionCacheSize must be 0 (off) or more bytes; it is {redis.SessionCacheSize}. The default is {RedisSessionStoreOptions.DefaultSessionCacheSize} (64 MiB).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
