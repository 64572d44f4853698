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
    /// Lets configuration choose this store: when <c>SessionState:Mode</c> (<c>LockedSessionOptions.Mode</c>) is
    /// <paramref name="mode"/> (compared ignoring case) and no store was registered in code, the session store is the
    /// one <paramref name="factory"/> makes (once). <c>InProc</c>, the in-memory store, is built in. What a store
    /// package calls from its own <c>Add…StoreMode</c> method, so that configuration selection needs no change in the
    /// middleware.
    /// </summary>
    /// <param name="builder">The builder returned by <c>AddLockedSession</c>.</param>
    /// <param name="mode">The name configuration uses for the store, such as <c>Redis</c>.</param>
    /// <param name="factory">Makes the store from the application's services.</param>
    /// <returns>The builder.</returns>
    public static ILockedSessionBuilder AddStoreMode(this ILockedSessionBuilder builder, string mode, Func<IServiceProvider, ISessionStateStore> factory)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(mode);
        ArgumentNullException.ThrowIfNull(factory);
        builder.Services.AddSingleton(new SessionStoreModeRegistration(mode, factory));
        return builder;
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
        services.TryAddSingleton(new ExplicitSessionStore(typeof(TStore)));
        services.AddSingleton<ISessionStateStore>(static sp => sp.GetRequiredService<TStore>());
        if (typeof(ISessionReleaseNotifications).IsAssignableFrom(typeof(TStore)))
        {
            services.AddSingleton(static sp => (ISessionReleaseNotifications)sp.GetRequiredService<TStore>());
        }

        return builder;
    }
}
