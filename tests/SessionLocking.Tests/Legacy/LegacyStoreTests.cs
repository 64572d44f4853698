using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SessionLocking.Redis.Legacy;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>The RedisSessionStateProvider store's registration, validation, corrupt data and its collection codec.</summary>
public sealed class LegacyStoreTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _application = "store-" + Guid.NewGuid().ToString("N")[..8];

    private ServiceProvider Services(Action<RedisSessionStateProviderStoreOptions> configure, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        more?.Invoke(services);
        services.AddLockedSession().AddRedisSessionStateProviderStore(configure);
        return services.BuildServiceProvider();
    }

    [Theory]
    [InlineData(null, "ApplicationName is required")]
    [InlineData("  ", "ApplicationName is required")]
    [InlineData("Shop{x}", "must not contain")]
    [InlineData("Shop\n", "must not contain")]
    public async Task An_application_name_that_cannot_be_a_key_fails_start_up_saying_so(string? name, string message)
    {
        await using var services = Services(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = name;
        });

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value);
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public async Task Without_a_connection_start_up_fails_naming_the_options()
    {
        await using var services = Services(o => o.ApplicationName = "Shop");

        var error = Assert.Throws<OptionsValidationException>(() => services.GetRequiredService<IOptions<RedisSessionStateProviderStoreOptions>>().Value);
        Assert.Contains("RedisSessionStateProviderStoreOptions.Configuration", error.Message);
    }

    [Fact]
    public async Task The_application_multiplexer_is_used_and_not_disposed()
    {
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        await using (var services = Services(o => o.ApplicationName = _application, s => s.AddSingleton<IConnectionMultiplexer>(multiplexer)))
        {
            var store = services.GetRequiredService<ISessionStateStore>();
            var id = SessionIds.Create();
            var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);
            Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["a"] = [21] }, [], TimeSpan.FromMinutes(1), true), default));
            Assert.True(await multiplexer.GetDatabase().KeyExistsAsync("{" + _application + "_" + id + "}_SessionStateItemCollection"));
            Assert.IsType<RedisSessionStateProviderItemFormat>(services.GetRequiredService<ISessionItemFormat>());
        }

        Assert.True(multiplexer.IsConnected);
        await multiplexer.DisposeAsync();
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3 })]
    [InlineData(new byte[] { 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 1, (byte)'a', 1, (byte)'b', 5, 0, 0, 0, 4, 0, 0, 0, 21 })]
    [InlineData(new byte[] { 1, 0, 0, 0, 7, 0, 0, 0 })]
    public async Task A_corrupt_collection_fails_clearly_drops_the_session_and_leaves_no_lock(byte[] garbage)
    {
        await using var services = Services(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = _application;
        });
        var store = services.GetRequiredService<ISessionStateStore>();
        await using var client = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var id = SessionIds.Create();
        var tag = "{" + _application + "_" + id + "}";
        await client.GetDatabase().StringSetAsync(tag + "_SessionStateItemCollection", garbage);

        var shared = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await store.GetSharedAsync(id, default));
        var exclusive = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), false, default));

        Assert.Contains("dropped nothing", shared.Message);
        Assert.Contains("dropped the session", exclusive.Message);
        Assert.False(await client.GetDatabase().KeyExistsAsync(tag + "_SessionStateItemCollection"));
        Assert.False(await client.GetDatabase().KeyExistsAsync(tag + "_WriteLock"));
        Assert.Equal(SessionStoreStatus.NotFound, (await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), false, default)).Status);
    }

    [Fact]
    public void The_collection_codec_keeps_order_values_and_an_item_with_a_null_name()
    {
        // Written by the test's own codec: a null-name item at index 1.
        var stream = new MemoryStream();
        var writer = new BinaryWriter(stream);
        writer.Write(3);
        writer.Write(1);
        writer.Write("first");
        writer.Write("Third");
        writer.Write(2);
        writer.Write(3);
        writer.Write(8);
        writer.Write(new byte[] { 6, 42, 21, 1, 3, (byte)'a', (byte)'b', (byte)'c' });
        var stored = stream.ToArray();

        var items = ClassicItemCollection.Read(stored);

        Assert.Equal(["first", ClassicItemCollection.NullName, "Third"], items.Select(i => i.Key));
        Assert.Equal((byte)42, ClassicValueFormat.Decode("first", items[0].Value));
        Assert.Null(ClassicValueFormat.Decode("null", items[1].Value));
        Assert.Equal("abc", ClassicValueFormat.Decode("Third", items[2].Value));
        Assert.Equal(stored, ClassicItemCollection.Write(items));
        Assert.Equal(new byte[] { 0, 0, 0, 0 }, ClassicItemCollection.Write([]));
        Assert.Empty(ClassicItemCollection.Read([0, 0, 0, 0]));
    }

    [Fact]
    public void Malformed_values_and_unsupported_types_fail_naming_the_item()
    {
        foreach (var bad in new byte[][] { [], [2, 1, 2], [1, 5, (byte)'a'], [18, 0, 0, 0, 0, 0, 0, 0, 0], [99], [2, 1, 0, 0, 0, 9] })
        {
            var error = Assert.Throws<SessionSerializationException>(() => ClassicValueFormat.Decode("item", bad));
            Assert.Equal("item", error.Key);
        }
    }
}

/// <summary>An acquire the store gave up on (its operation timeout) leaves no lock behind once Redis runs it late.</summary>
public sealed class LegacyAbandonedAcquireTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task An_acquire_that_timed_out_releases_the_lock_it_took_late()
    {
        var application = "abandoned-" + Guid.NewGuid().ToString("N")[..8];
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = application;
            o.OperationTimeout = TimeSpan.FromMilliseconds(200);
        });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<ISessionStateStore>();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var id = SessionIds.Create();
        var lockKey = "{" + application + "_" + id + "}_WriteLock";
        await store.KeepAliveAsync(id, default); // connected before Redis pauses

        await admin.GetDatabase().ExecuteAsync("CLIENT", "PAUSE", "1000", "ALL");
        await Assert.ThrowsAsync<SessionLocking.Redis.SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(60), true, default));

        // After the pause Redis runs the acquire (which takes the lock) and then the release queued behind it.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        await Task.Delay(1000);
        while (await admin.GetDatabase().KeyExistsAsync(lockKey))
        {
            Assert.True(DateTime.UtcNow < deadline, "the abandoned acquire's lock is still there");
            await Task.Delay(50);
        }

        var next = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(60), true, default);
        Assert.Equal(SessionStoreStatus.NotFound, next.Status);
        Assert.True(next.HasLock);
        Assert.True(await store.ReleaseAsync(id, next.LockId, default));
    }
}

/// <summary>Lock values and ages come from the application's TimeProvider in LockTimeZone, exactly.</summary>
public sealed class LegacyLockClockTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task Lock_values_are_local_ticks_of_LockTimeZone_and_ages_follow_the_TimeProvider()
    {
        var clock = new SessionLocking.Tests.Infrastructure.ManualTimeProvider();
        var zone = TimeZoneInfo.CreateCustomTimeZone("Test+05:30", new TimeSpan(5, 30, 0), "Test", "Test");
        var application = "clock-" + Guid.NewGuid().ToString("N")[..8];
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddSingleton<TimeProvider>(clock);
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = redis.Configuration;
            o.ApplicationName = application;
            o.LockTimeZone = zone;
        });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<ISessionStateStore>();
        await using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);
        var db = admin.GetDatabase();
        var local = clock.GetUtcNow().UtcDateTime.Add(new TimeSpan(5, 30, 0)).Ticks;

        // Ours: local ticks (the last three digits random), unique and growing.
        var id = SessionIds.Create();
        var first = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);
        Assert.Equal(local / 1000, first.LockId.Token / 1000);
        Assert.Equal(first.LockId.Token.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)await db.StringGetAsync("{" + application + "_" + id + "}_WriteLock"));
        Assert.True(await store.ReleaseAsync(id, first.LockId, default));
        var tokens = new List<long>();
        for (var i = 0; i < 50; i++)
        {
            var taken = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);
            tokens.Add(taken.LockId.Token);
            Assert.True(await store.ReleaseAsync(id, taken.LockId, default));
        }

        Assert.Equal(tokens.Order(), tokens);
        Assert.Equal(tokens.Count, tokens.Distinct().Count());

        // Theirs: a classic server in that zone took the lock 90 s ago by our clock.
        var other = SessionIds.Create();
        await db.StringSetAsync("{" + application + "_" + other + "}_WriteLock", (local - TimeSpan.FromSeconds(90).Ticks).ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(TimeSpan.FromSeconds(90), (await store.GetSharedAsync(other, default)).LockAge);
        clock.Advance(TimeSpan.FromSeconds(20));
        var seen = await store.GetExclusiveAsync(other, TimeSpan.FromSeconds(30), true, default);
        Assert.Equal(SessionStoreStatus.Locked, seen.Status);
        Assert.Equal(TimeSpan.FromSeconds(110), seen.LockAge);
        Assert.Equal(local - TimeSpan.FromSeconds(90).Ticks, seen.LockId.Token);
    }
}
