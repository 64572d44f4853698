using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Redis;
using SessionLocking.Redis.Legacy;
using SessionLocking.TestUtilities;
using StackExchange.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Garnet started without <c>--lua-transaction-mode true</c> does not run scripts atomically: the store would hand
/// out two locks. Both Redis stores refuse it at connect (their first call fails naming the flag) and work on a Garnet
/// started with it.
/// </summary>
public sealed class GarnetAtomicityTests(NonAtomicGarnetFixture nonAtomic, GarnetFixture atomic) : IClassFixture<NonAtomicGarnetFixture>, IClassFixture<GarnetFixture>
{
    private readonly string _prefix = "atomic-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task On_garnet_without_lua_transaction_mode_the_first_call_fails_naming_the_flag_and_takes_no_lock()
    {
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = nonAtomic.Configuration, KeyPrefix = _prefix });
        var id = SessionIds.Create();

        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default));
        var again = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default));

        Assert.Contains("--lua-transaction-mode true", error.Message, StringComparison.Ordinal);
        Assert.Contains("Garnet", error.Message, StringComparison.Ordinal);
        Assert.Contains("--lua-transaction-mode true", again.Message, StringComparison.Ordinal);
        Assert.Empty(await KeysAsync(nonAtomic.Server, "*" + _prefix + "*"));
    }

    [Fact]
    public async Task On_an_application_multiplexer_to_garnet_without_lua_transaction_mode_the_store_refuses_too()
    {
        await using var multiplexer = await ConnectionMultiplexer.ConnectAsync(nonAtomic.Configuration);
        await using var store = new RedisSessionStateStore(multiplexer, new RedisSessionStoreOptions { KeyPrefix = _prefix });

        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetSharedAsync(SessionIds.Create(), default));

        Assert.Contains("--lua-transaction-mode true", error.Message, StringComparison.Ordinal);
        Assert.True(multiplexer.IsConnected); // the application's multiplexer is left alone
    }

    [Fact]
    public async Task The_legacy_store_refuses_garnet_without_lua_transaction_mode_too()
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = nonAtomic.Configuration;
            o.ApplicationName = _prefix;
        });
        await using var provider = services.BuildServiceProvider();
        var store = Assert.IsType<LegacyRedisSessionStateStore>(provider.GetRequiredService<ISessionStateStore>());

        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(SessionIds.Create(), TimeSpan.FromSeconds(30), true, default));

        Assert.Contains("--lua-transaction-mode true", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task On_garnet_with_lua_transaction_mode_the_probe_passes_and_leaves_no_key()
    {
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = atomic.Configuration, KeyPrefix = _prefix });
        var id = SessionIds.Create();

        var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);

        Assert.True(taken.HasLock);
        Assert.True(await store.ReleaseAsync(id, taken.LockId, default));
        Assert.Empty(await KeysAsync(atomic.Server, "*SessionLocking:atomicity*"));
    }

    private static async Task<object?[]> KeysAsync(RedisServer server, string pattern)
    {
        using var client = await server.ConnectAsync();
        return (object?[])(await client.CommandAsync("KEYS", pattern))!;
    }
}
