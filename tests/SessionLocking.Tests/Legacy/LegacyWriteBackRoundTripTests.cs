using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// A V5 write-back is one script: it applies the changes to the collection its acquire loaded (the lock kept everyone
/// else from writing it since), instead of reading the collection again under the lock first. Counted on the server
/// (<c>INFO commandstats</c>).
/// </summary>
public sealed class LegacyWriteBackRoundTripTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly string _application = "trips-" + Guid.NewGuid().ToString("N")[..8];
    private ConnectionMultiplexer _redis = null!;
    private RespClient _stats = null!;

    public async Task InitializeAsync()
    {
        _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        _stats = await redis.Server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        _stats.Dispose();
        await _redis.DisposeAsync();
    }

    [Fact]
    public async Task A_V5_write_back_after_an_acquire_that_loaded_the_session_is_one_script()
    {
        var classic = new LegacyProviderSimulator(_redis, _application, RedisSessionStateProviderFormat.V5, TimeZoneInfo.Local, TimeSpan.FromSeconds(110));
        var id = SessionIds.Create();
        var request = await classic.BeginExclusiveAsync(id);
        request["counter"] = 41;
        request["cart"] = new OpaqueObject([0, 1, 2, 3]);
        Assert.True(await request.EndAsync());
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = _application;
        });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<ISessionStateStore>();
        var format = provider.GetRequiredService<ISessionItemFormat>();
        var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: false, default);
        Assert.Equal(SessionStoreStatus.Found, taken.Status);
        var changes = new SessionChanges(new Dictionary<string, byte[]> { ["counter"] = format.Encode("counter", 42, typeof(int)) }, ["gone"], TimeSpan.FromMinutes(20), isNew: false);

        var before = await _stats.CommandStatsAsync();
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, changes, default));
        var after = await _stats.CommandStatsAsync();

        var scripts = after.GetValueOrDefault("evalsha") - before.GetValueOrDefault("evalsha") + after.GetValueOrDefault("eval") - before.GetValueOrDefault("eval");
        Assert.Equal(1, scripts);
        var read = await classic.BeginReadOnlyAsync(id);
        Assert.Equal(["counter", "cart"], read.Items.Select(i => i.Key));
        Assert.Equal(42, read["counter"]);
        Assert.Equal(new byte[] { 0, 1, 2, 3 }, ((OpaqueObject)read["cart"]!).Payload);
    }
}
