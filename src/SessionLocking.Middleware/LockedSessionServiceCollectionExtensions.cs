using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using SessionLocking;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Serialization;
using SessionLocking.SessionEnds;
using SessionLocking.Stores;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the locked session.</summary>
public static class LockedSessionServiceCollectionExtensions
{
    /// <summary>
    /// Adds session state with classic ASP.NET locking. Options bind from the <c>SessionState</c>
    /// configuration section, then <paramref name="configure"/> runs. With no store registered, sessions are
    /// kept in memory (classic InProc), or in the store whose mode <c>SessionState:Mode</c> names (for example
    /// <c>Redis</c>, after <c>AddRedisStoreMode()</c> of the SessionLocking.Redis package).
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Changes to the options.</param>
    /// <returns>A builder to register a store on, such as <c>AddRedisStore</c>.</returns>
    public static ILockedSessionBuilder AddLockedSession(this IServiceCollection services, Action<LockedSessionOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<LockedSessionOptions>().BindConfiguration(LockedSessionDefaults.ConfigurationSection);
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<LockedSessionOptions>, LockedSessionOptionsValidator>());
        services.AddOptions<LockedSessionOptions>().ValidateOnStart();
        services.AddMetrics();
        services.AddDataProtection();
        services.TryAddSingleton<SessionCookie>();
        services.TryAddSingleton<HeldResponseBudget>();
        services.TryAddSingleton(TimeProvider.System);

        // In memory, or the store package's mode that SessionState:Mode names; a store registered in code (AddStore) wins.
        services.TryAddSingleton(ConfiguredStore.Create);
        services.TryAddSingleton<ISessionStateStore>(static sp => sp.GetRequiredService<ConfiguredStore>().Store);
        services.TryAddSingleton(static sp => sp.GetRequiredService<ConfiguredStore>().Notifications!);
        services.TryAddSingleton<ISessionValueSerializer, JsonSessionValueSerializer>();
        services.TryAddSingleton<ISessionItemFormat, SessionValueCodec>();

        // The locking itself: the meter, the store as the middleware sees it (timed, traced, behind the circuit
        // breaker) and the coordinator, which makes the queues, the wait policy and the lock owners it hands back.
        services.TryAddSingleton<SessionLockingMetrics>();
        services.TryAddSingleton<InstrumentedSessionStateStore>();
        services.TryAddSingleton<SessionLockCoordinator>();

        // Session_End: built with the middleware (so the store records ends before the first request), run as a hosted
        // service; without an OnSessionEnd handler it does nothing.
        if (!services.Any(static d => d.ServiceType == typeof(SessionEndDispatcher)))
        {
            services.AddSingleton<SessionEndDispatcher>();
            services.AddHostedService(static sp => sp.GetRequiredService<SessionEndDispatcher>());
        }

        return new LockedSessionBuilder(services);
    }
}
