using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SessionLocking.Stores;

/// <summary>
/// The store configuration chose (<c>SessionState:Mode</c>) when none was registered in code: <c>InProc</c> (built
/// in), or a mode a store package registered with <c>AddStoreMode</c>. Its optional capability (release notifications)
/// is found on the store itself, never on a decorator.
/// </summary>
/// <remarks>The container disposes the store through the <see cref="ISessionStateStore"/> registration that hands it out.</remarks>
internal sealed class ConfiguredStore
{
    public const string InProc = "InProc";

    private ConfiguredStore(ISessionStateStore store) => Store = store;

    public ISessionStateStore Store { get; }

    public ISessionReleaseNotifications? Notifications => Store as ISessionReleaseNotifications;

    public static ConfiguredStore Create(IServiceProvider services)
    {
        var mode = services.GetRequiredService<IOptions<LockedSessionOptions>>().Value.Mode;
        if (IsInProc(mode))
        {
            return new ConfiguredStore(new InMemorySessionStateStore(services.GetRequiredService<TimeProvider>()));
        }

        var registrations = services.GetServices<SessionStoreModeRegistration>();
        var registration = Find(mode, registrations) ?? throw new InvalidOperationException(UnknownMode(mode, registrations));
        return new ConfiguredStore(registration.Factory(services));
    }

    public static bool IsInProc(string? mode) => string.Equals(mode, InProc, StringComparison.OrdinalIgnoreCase);

    public static SessionStoreModeRegistration? Find(string? mode, IEnumerable<SessionStoreModeRegistration> registrations) =>
        registrations.LastOrDefault(r => string.Equals(r.Mode, mode, StringComparison.OrdinalIgnoreCase));

    public static string UnknownMode(string? mode, IEnumerable<SessionStoreModeRegistration> registrations)
    {
        var known = string.Join(", ", new[] { InProc }.Concat(registrations.Select(r => r.Mode)).Distinct(StringComparer.OrdinalIgnoreCase));
        return $"SessionState:Mode is \"{mode}\", but no store registered that mode; the modes known here are: {known}. " +
            "For Redis, reference the SessionLocking.Redis package and call builder.Services.AddLockedSession().AddRedisStoreMode() " +
            "(or register the store in code with AddRedisStore(...)); to keep sessions in memory, set SessionState:Mode to InProc.";
    }
}
