using Microsoft.Extensions.DependencyInjection.Extensions;
using SessionLocking;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Registers a session store: what a store package calls from its own <c>Add…Store</c> method, so that a new store
/// needs no change in the middleware. The store replaces whatever store was registered before, and wins over the
/// store that configuration (<c>SessionState:Mode</c>) selects.
/// </summary>
public static class LockedSessionBuilderStoreExtensions
{
    /// <summary>
    /// Uses <typeparamref name="TStore"/>, made by the container (one instance), as the session store. When it also
    /// implements <see cref="ISessionReleaseNotifications"/>, waiters on every server wake as soon as a lock is
    /// released; that capability is registered as its own service, so a decorator of <see cref="ISessionStateStore"/>
    /// registered later does not hide it.
    /// </summary>
    /// <typeparam name="TStore">The store type.</typeparam>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddStore<TStore>(this ILockedSessionBuilder builder)
        where TStore : class, ISessionStateStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<TStore>();
        builder.Services.AddSingleton<TStore>();
        return UseRegisteredStore<TStore>(builder);
    }

    /// <summary>Uses the store that <paramref name="factory"/> makes (once) as the session store; see <see cref="AddStore{TStore}(ILockedSessionBuilder)"/>.</summary>
    /// <typeparam name="TStore">The store type.</typeparam>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="factory">Makes the store from the application's services.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddStore<TStore>(this ILockedSessionBuilder builder, Func<IServiceProvider, TStore> factory)
        where TStore : class, ISessionStateStore
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.RemoveAll<TStore>();
        builder.Services.AddSingleton(factory);
        return UseRegisteredStore<TStore>(builder);
    }

    /// <summary>
    /// Stores items in the format <typeparamref name="TFormat"/> instead of SessionLocking's own: what a store that
    /// shares a foreign store's data calls. One instance, made by the container.
    /// </summary>
    /// <typeparam name="TFormat">The item format.</typeparam>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder UseItemFormat<TFormat>(this ILockedSessionBuilder builder)
        where TFormat : class, ISessionItemFormat
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.RemoveAll<ISessionItemFormat>();
        builder.Services.AddSingleton<ISessionItemFormat, TFormat>();
        return builder;
    }

    private static ILockedSessionBuilder UseRegisteredStore<TStore>(ILockedSessionBuilder builder)
        where TStore : class, ISessionStateStore
    {
        var services = builder.Services;
        services.RemoveAll<ISessionStateStore>();
        services.RemoveAll<ISessionReleaseNotifications>();
        services.AddSingleton<ISessionStateStore>(static sp => sp.GetRequiredService<TStore>());
        if (typeof(ISessionReleaseNotifications).IsAssignableFrom(typeof(TStore)))
        {
            services.AddSingleton(static sp => (ISessionReleaseNotifications)sp.GetRequiredService<TStore>());
        }

        return builder;
    }
}
