using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Serialization;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Unit;

/// <summary>What <c>AddLockedSession</c> puts in the container: a handful of its own services, and the user's wherever the user registered one.</summary>
public sealed class ServiceRegistrationTests
{
    /// <summary>
    /// Issue 18, "fewer moving parts in DI": the coordinator makes its own parts (queues, wait policy, release
    /// subscriptions, the abandoned-lock releaser) and the instrumented store its circuit breaker. On 8540710
    /// <c>AddLockedSession</c> registered 15 services of its own, on 9d99531 16 (with the held-response budget).
    /// </summary>
    [Fact]
    public void AddLockedSession_registers_a_handful_of_its_own_services()
    {
        var services = new ServiceCollection();

        services.AddLockedSession();

        var assembly = typeof(SessionLockCoordinator).Assembly;
        var own = services
            .Where(d => d.ServiceType.Assembly == assembly || d.ImplementationType?.Assembly == assembly)
            .Select(d => d.ServiceType.Name + (d.ImplementationType is { } type ? " -> " + type.Name : ""))
            .ToList();
        Assert.True(own.Count <= 10, $"{own.Count} services of SessionLocking's own: {string.Join(", ", own)}"); // 10th: the Session_End dispatcher
    }

    [Fact]
    public async Task The_users_store_serializer_format_and_clock_are_kept_and_used()
    {
        var time = new ManualTimeProvider();
        var store = new InMemorySessionStateStore(time);
        var serializer = new JsonSessionValueSerializer(Microsoft.Extensions.Options.Options.Create(new LockedSessionOptions()));
        var format = new ForwardingFormat();
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(time);
        services.AddSingleton<ISessionStateStore>(store);
        services.AddSingleton<ISessionValueSerializer>(serializer);
        services.AddSingleton<ISessionItemFormat>(format);

        services.AddLockedSession();
        await using var provider = services.BuildServiceProvider();

        Assert.Same(time, provider.GetRequiredService<TimeProvider>());
        Assert.Same(store, provider.GetRequiredService<ISessionStateStore>());
        Assert.Same(serializer, provider.GetRequiredService<ISessionValueSerializer>());
        Assert.Same(format, provider.GetRequiredService<ISessionItemFormat>());
        Assert.Same(store, provider.GetRequiredService<InstrumentedSessionStateStore>().Inner);
        await using var taken = await provider.GetRequiredService<SessionLockCoordinator>().AcquireAsync(SessionIds.Create(), SessionStateBehavior.Required, createIfMissing: true, default);
        Assert.True(taken.StoreResult.HasLock);
        Assert.Equal(SessionStoreStatus.Locked, (await store.GetSharedAsync(taken.SessionId, default)).Status);
    }

    private sealed class ForwardingFormat : ISessionItemFormat
    {
        public bool CanStore(Type type) => true;

        public byte[] Encode(string name, object? value, Type type) => [];

        public byte[] EncodeBytes(string name, ReadOnlySpan<byte> value) => value.ToArray();

        public object? Decode(string name, byte[] stored) => null;

        public object? Decode(string name, byte[] stored, Type type) => null;

        public byte[] DecodeBytes(string name, byte[] stored) => stored;

        public bool IsBytes(byte[] stored) => true;
    }
}
