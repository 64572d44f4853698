using Microsoft.Extensions.DependencyInjection.Extensions;
using SessionLocking;
using SessionLocking.Redis;
using StackExchange.Redis;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers the Redis session store (StackExchange.Redis 2.x). The store replaces whatever store was registered
/// before, and wins over <c>SessionState:Mode</c>; <see cref="AddRedisStoreMode"/> lets configuration choose it instead. Four ways to connect: a configuration string, the client's
/// <see cref="ConfigurationOptions"/>, a factory (<see cref="RedisSessionStoreOptions.ConnectionMultiplexerFactory"/>),
/// or the <see cref="IConnectionMultiplexer"/> the application registered in DI. The store disposes only a
/// multiplexer it made itself.
/// </summary>
public static class RedisLockedSessionBuilderExtensions
{
    /// <summary>
    /// Keeps sessions in Redis, connecting (once, on first use) with the StackExchange.Redis configuration string
    /// <paramref name="configuration"/>, for example <c>127.0.0.1:6379</c> or <c>host1:6379,host2:6379,password=...</c>.
    /// The other options (<c>KeyPrefix</c>, timeouts) come from <c>SessionState:Redis</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="configuration">The Redis configuration string.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisStore(this ILockedSessionBuilder builder, string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        return builder.AddRedisStore(options => options.Configuration = configuration);
    }

    /// <summary>
    /// Keeps sessions in Redis, connecting (once, on first use) with a copy of the client's
    /// <paramref name="configurationOptions"/> (see <see cref="RedisSessionStoreOptions.ConfigurationOptions"/>).
    /// The other options (<c>KeyPrefix</c>, timeouts) come from <c>SessionState:Redis</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="configurationOptions">The client's options: endpoints, password, TLS, and so on.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisStore(this ILockedSessionBuilder builder, ConfigurationOptions configurationOptions)
    {
        ArgumentNullException.ThrowIfNull(configurationOptions);
        return builder.AddRedisStore(options => options.ConfigurationOptions = configurationOptions);
    }

    /// <summary>
    /// Keeps sessions in Redis with options bound from <c>SessionState:Redis</c>, then changed by <paramref name="configure"/>.
    /// The store connects with <see cref="RedisSessionStoreOptions.ConnectionMultiplexerFactory"/> when set (never disposing
    /// what it returns), else makes its own connection with <see cref="RedisSessionStoreOptions.ConfigurationOptions"/>
    /// or <see cref="RedisSessionStoreOptions.Configuration"/>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="configure">Changes to the Redis options.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisStore(this ILockedSessionBuilder builder, Action<RedisSessionStoreOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        builder.Services.Configure(configure);
        return Register(builder, preferServiceMultiplexer: false);
    }

    /// <summary>
    /// Keeps sessions in Redis on the <see cref="IConnectionMultiplexer"/> the application registered in its services
    /// (shared with the application's cache, Data Protection and so on; the store never disposes it). When none is
    /// registered, the store connects as <c>SessionState:Redis</c> says (<c>Configuration</c>). <c>KeyPrefix</c> and timeouts come
    /// from <c>SessionState:Redis</c>.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisStore(this ILockedSessionBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return Register(builder, preferServiceMultiplexer: true);
    }

    /// <summary>
    /// Lets configuration choose Redis: with <c>SessionState:Mode</c> set to <c>Redis</c> (and no store registered in
    /// code) sessions are kept in Redis, configured from <c>SessionState:Redis</c>; on the application's
    /// <see cref="IConnectionMultiplexer"/> when it registered one, else on the store's own connection
    /// (<c>SessionState:Redis:Configuration</c>). With any other mode this registers nothing that runs.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddRedisStoreMode(this ILockedSessionBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        AddOptions(builder.Services, preferServiceMultiplexer: true);
        return builder.AddStoreMode(RedisSessionStoreOptions.Mode, static sp => SessionStoreFactory.CreateRedis(sp, preferServiceMultiplexer: true));
    }

    private static ILockedSessionBuilder Register(ILockedSessionBuilder builder, bool preferServiceMultiplexer)
    {
        AddOptions(builder.Services, preferServiceMultiplexer).ValidateOnStart();
        builder.AddStore(sp => SessionStoreFactory.CreateRedis(sp, preferServiceMultiplexer));

        // A configuration that still says Mode=Redis is satisfied (the store registered here wins anyway).
        return builder.AddStoreMode(RedisSessionStoreOptions.Mode, static sp => sp.GetRequiredService<ISessionStateStore>());
    }

    private static Options.OptionsBuilder<RedisSessionStoreOptions> AddOptions(IServiceCollection services, bool preferServiceMultiplexer)
    {
        services.RemoveAll<RedisStoreRegistration>();
        services.AddSingleton(new RedisStoreRegistration(preferServiceMultiplexer));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Options.IValidateOptions<RedisSessionStoreOptions>, RedisOptionsValidator>());
        return services.AddOptions<RedisSessionStoreOptions>().BindConfiguration(RedisSessionStoreOptions.ConfigurationSection);
    }
}
