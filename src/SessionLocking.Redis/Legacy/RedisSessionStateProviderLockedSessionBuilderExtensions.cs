using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking;
using SessionLocking.Redis.Legacy;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the store that shares sessions and locks with a classic ASP.NET application running
/// Microsoft.Web.RedisSessionStateProvider, for side-by-side migrations (docs/legacy-redis.md).
/// </summary>
public static class RedisSessionStateProviderLockedSessionBuilderExtensions
{
    /// <summary>
    /// Keeps sessions in the classic RedisSessionStateProvider's keys and format, honouring its locks both ways: a
    /// request here waits for a classic request that holds the session and the other way round, and either side
    /// force-releases the other's lock once it is older than the execution timeout. Items are stored in the classic
    /// format (registered with <c>UseItemFormat</c>). Connects with <see cref="RedisSessionStateProviderStoreOptions.Configuration"/>
    /// or <see cref="RedisSessionStateProviderStoreOptions.ConfigurationOptions"/>, else on the <see cref="IConnectionMultiplexer"/>
    /// the application registered (never disposed here). Set <c>ExecutionTimeout</c> of <c>AddLockedSession</c> equal to
    /// the classic <c>httpRuntime executionTimeout</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="configure">Sets the options: at least <see cref="RedisSessionStateProviderStoreOptions.ApplicationName"/> and the connection.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisSessionStateProviderStore(this ILockedSessionBuilder builder, Action<RedisSessionStateProviderStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.AddOptions<RedisSessionStateProviderStoreOptions>().Configure(configure).ValidateOnStart();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisSessionStateProviderStoreOptions>, RedisSessionStateProviderValidation>());
        builder.UseItemFormat<RedisSessionStateProviderItemFormat>();
        return builder.AddStore(static sp => new LegacyRedisSessionStateStore(
            sp.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value,
            sp.GetService<IConnectionMultiplexer>(),
            sp.GetService<TimeProvider>(),
            sp.GetService<ILoggerFactory>(),
            sp.GetService<IMeterFactory>()));
    }
}
