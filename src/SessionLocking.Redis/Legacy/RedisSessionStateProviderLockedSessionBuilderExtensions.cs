using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
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
    /// <param name="configure">Sets the options (after those bound from <c>SessionState:RedisSessionStateProvider</c>): at least <see cref="RedisSessionStateProviderStoreOptions.ApplicationName"/> and the connection.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisSessionStateProviderStore(this ILockedSessionBuilder builder, Action<RedisSessionStateProviderStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        AddOptions(builder.Services).Configure(configure).ValidateOnStart();
        builder.UseItemFormat<RedisSessionStateProviderItemFormat>();
        builder.AddStore(static sp => Create(sp));

        // A configuration that still says Mode=RedisSessionStateProvider is satisfied (the store registered here wins anyway).
        return builder.AddStoreMode(RedisSessionStateProviderStoreOptions.Mode, static sp => sp.GetRequiredService<ISessionStateStore>());
    }

    /// <summary>
    /// Lets configuration choose this store: with <c>SessionState:Mode</c> set to <c>RedisSessionStateProvider</c> (and
    /// no store registered in code) sessions are kept in the classic provider's keys and format, with the options bound
    /// from <c>SessionState:RedisSessionStateProvider</c> (<c>Configuration</c> or the application's
    /// <see cref="IConnectionMultiplexer"/>, <c>ApplicationName</c>, <c>Format</c> …), and items in the classic format.
    /// With any other mode this registers nothing that runs: the item format stays the one registered before.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisSessionStateProviderStoreMode(this ILockedSessionBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddOptions(builder.Services);
        var services = builder.Services;
        var previous = services.LastOrDefault(d => d.ServiceType == typeof(ISessionItemFormat))
            ?? throw new InvalidOperationException("AddRedisSessionStateProviderStoreMode: call it on the builder AddLockedSession returns (no item format is registered yet).");
        services.RemoveAll<ISessionItemFormat>();

        // The classic format only when the store in use is this one (the mode chose it); else the format registered before.
        services.AddSingleton<ISessionItemFormat>(sp => sp.GetRequiredService<ISessionStateStore>() is LegacyRedisSessionStateStore
            ? ActivatorUtilities.CreateInstance<RedisSessionStateProviderItemFormat>(sp)
            : Resolve(previous, sp));
        return builder.AddStoreMode(RedisSessionStateProviderStoreOptions.Mode, static sp => Create(sp));
    }

    private static LegacyRedisSessionStateStore Create(IServiceProvider sp) => new(
        sp.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value,
        sp.GetService<IConnectionMultiplexer>(),
        sp.GetService<TimeProvider>(),
        sp.GetService<ILoggerFactory>(),
        sp.GetService<IMeterFactory>());

    private static OptionsBuilder<RedisSessionStateProviderStoreOptions> AddOptions(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisSessionStateProviderStoreOptions>, RedisSessionStateProviderValidation>());
        return services.AddOptions<RedisSessionStateProviderStoreOptions>()
            .BindConfiguration(RedisSessionStateProviderStoreOptions.ConfigurationSection)
            .Configure<IServiceProvider>(static (options, sp) => BindLockTimeZone(options, sp.GetService<IConfiguration>()));
    }

    /// <summary>
    /// <c>LockTimeZone</c> from configuration: a time zone id of this machine (the binder alone would ignore the string,
    /// silently keeping the local zone, and a wrong zone makes each side see the other's locks as hours old).
    /// </summary>
    private static void BindLockTimeZone(RedisSessionStateProviderStoreOptions options, IConfiguration? configuration)
    {
        var key = RedisSessionStateProviderStoreOptions.ConfigurationSection + ":" + nameof(RedisSessionStateProviderStoreOptions.LockTimeZone);
        if (configuration?[key] is not { Length: > 0 } zone)
        {
            return;
        }

        try
        {
            options.LockTimeZone = TimeZoneInfo.FindSystemTimeZoneById(zone);
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            throw new InvalidOperationException($"{key} is \"{zone}\", which is not a time zone id of this machine: set it to the classic servers' time zone (an IANA id such as Europe/Berlin, or a Windows id such as W. Europe Standard Time).", ex);
        }
    }

    private static ISessionItemFormat Resolve(ServiceDescriptor descriptor, IServiceProvider sp) =>
        (ISessionItemFormat)(descriptor.ImplementationInstance
            ?? descriptor.ImplementationFactory?.Invoke(sp)
            ?? ActivatorUtilities.CreateInstance(sp, descriptor.ImplementationType!));
}
