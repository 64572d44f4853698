using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// A stored number the provider would never write (its session timeout is an Int32 of seconds), or a key of the wrong
/// type, is found before anything is taken: the store answers <see cref="SessionStoreCorruptException"/>, drops the
/// session and leaves no lock, so the next request starts afresh.
/// </summary>
public sealed class LegacyCorruptRecordTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(110);
    private readonly string _application = "corrupt-" + Guid.NewGuid().ToString("N")[..8];
    private ConnectionMultiplexer _redis = null!;

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private ServiceProvider Services(RedisSessionStateProviderFormat format)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o => Configure(o, format));
        return services.BuildServiceProvider();
    }

    private void Configure(RedisSessionStateProviderStoreOptions o, RedisSessionStateProviderFormat format)
    {
        o.Configuration = redis.Configuration;
        o.ApplicationName = _application;
        o.Format = format;
    }

    private LegacyProviderSimulator Classic(RedisSessionStateProviderFormat format) =>
        new(_redis, _application, format, TimeZoneInfo.Local, LockTimeout);

    /// <summary>A session the classic side wrote, whose timeout key then got <paramref name="timeout"/>.</summary>
    private async Task<(string Id, RedisKey[] Keys)> SessionWithTimeoutAsync(RedisSessionStateProviderFormat format, RedisValue timeout)
    {
        var classic = Classic(format);
        var id = SessionIds.Create();
        var request = await classic.BeginExclusiveAsync(id);
        request["a"] = "1";
        Assert.True(await request.EndAsync());
        var keys = classic.Keys(id);
        if (format == RedisSessionStateProviderFormat.V5)
        {
            await _redis.GetDatabase().StringSetAsync(keys[2], timeout, TimeSpan.FromMinutes(20));
        }
        else
        {
            await _redis.GetDatabase().HashSetAsync(keys[2], "SessionTimeout", timeout);
        }

        return (id, keys);
    }

    public static TheoryData<RedisSessionStateProviderFormat, string> Timeouts()
    {
        var data = new TheoryData<RedisSessionStateProviderFormat, string>();
        foreach (var format in new[] { RedisSessionStateProviderFormat.V5, RedisSessionStateProviderFormat.V4 })
        {
            foreach (var timeout in new[] { "1e300", "inf", "999999999999", "0", "-60", "1.5", " 60", "0x10", "nan", "2147483648", "" })
            {
                data.Add(format, timeout);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Timeouts))]
    public async Task A_session_timeout_that_is_not_a_positive_Int32_fails_the_acquire_takes_no_lock_and_drops_the_session(RedisSessionStateProviderFormat format, string timeout)
    {
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();
        var (id, keys) = await SessionWithTimeoutAsync(format, timeout);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Equal("acquire", error.Operation);
        Assert.Equal("session timeout", error.What);
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(keys[0]), "the acquire left a lock");
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(keys[1]), "the corrupt session was kept");
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(keys[2]), "the corrupt session was kept");
        var next = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.NotFound, next.Status);
        Assert.True(await store.ReleaseAsync(id, next.LockId, default));
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5, "1e300")]
    [InlineData(RedisSessionStateProviderFormat.V5, "inf")]
    [InlineData(RedisSessionStateProviderFormat.V5, "999999999999")]
    [InlineData(RedisSessionStateProviderFormat.V4, "1e300")]
    [InlineData(RedisSessionStateProviderFormat.V4, "inf")]
    [InlineData(RedisSessionStateProviderFormat.V4, "999999999999")]
    public async Task A_read_only_load_of_a_session_with_a_corrupt_timeout_fails_clearly_and_drops_it(RedisSessionStateProviderFormat format, string timeout)
    {
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();
        var (id, keys) = await SessionWithTimeoutAsync(format, timeout);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await store.GetSharedAsync(id, default));

        Assert.Equal("session timeout", error.What);
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(keys[1]));
        Assert.Equal(SessionStoreStatus.NotFound, (await store.GetSharedAsync(id, default)).Status);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5, 1, "session data is not a string")]
    [InlineData(RedisSessionStateProviderFormat.V5, 2, "session timeout is not a string")]
    [InlineData(RedisSessionStateProviderFormat.V4, 1, "session data is not a hash")]
    [InlineData(RedisSessionStateProviderFormat.V4, 2, "session timeout is not a hash")]
    public async Task A_session_key_of_the_wrong_type_fails_the_acquire_and_takes_no_lock(RedisSessionStateProviderFormat format, int key, string what)
    {
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();
        var (id, keys) = await SessionWithTimeoutAsync(format, 1200);
        await _redis.GetDatabase().KeyDeleteAsync(keys[key]);
        await _redis.GetDatabase().ListLeftPushAsync(keys[key], "x");

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Equal(what, error.What);
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(keys[0]));
        Assert.Equal(SessionStoreStatus.NotFound, (await store.GetExclusiveAsync(id, LockTimeout, false, default)).Status);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task A_corrupt_timeout_fails_one_request_and_the_next_one_starts_afresh(RedisSessionStateProviderFormat format)
    {
        await using var host = await TestHost.StartAsync(
            o =>
            {
                o.RegenerateUnknownSessionIds = false;
                o.ExecutionTimeout = TimeSpan.FromSeconds(3);
            },
            b => b.AddRedisSessionStateProviderStore(o => Configure(o, format)));
        using var client = host.CreateClient();
        var (id, _) = await SessionWithTimeoutAsync(format, "1e300");
        client.SessionId = id;

        using (var failed = await client.PostAsync("/set?key=b&value=2"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
        }

        using var next = await client.PostAsync("/set?key=b&value=2");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=b"));
    }
}
