using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;
using StackExchange.Redis;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// The provider's <c>SessionStateActions</c> item: a classic request that finds no stored session calls
/// <c>CreateUninitializedItem</c>, which stores that one item; the next request (on either side) starts the session as
/// new, and every write-back removes the item, as the provider's own write-backs do.
/// </summary>
public sealed class LegacyUninitializedSessionTests(RedisFixture redis) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _application = "uninit-" + Guid.NewGuid().ToString("N")[..8];
    private ConnectionMultiplexer _redis = null!;

    public async Task InitializeAsync() => _redis = await ConnectionMultiplexer.ConnectAsync(redis.Configuration);

    public async Task DisposeAsync() => await _redis.DisposeAsync();

    private LegacyProviderSimulator Classic(RedisSessionStateProviderFormat format) =>
        new(_redis, _application, format, TimeZoneInfo.Local, TimeSpan.FromSeconds(110));

    private void Configure(RedisSessionStateProviderStoreOptions o, RedisSessionStateProviderFormat format)
    {
        o.Configuration = redis.Configuration;
        o.ApplicationName = _application;
        o.Format = format;
    }

    private ServiceProvider Services(RedisSessionStateProviderFormat format)
    {
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        services.AddLockedSession().AddRedisSessionStateProviderStore(o => Configure(o, format));
        return services.BuildServiceProvider();
    }

    private Task<TestHost> HostAsync(RedisSessionStateProviderFormat format, Func<SessionStartContext, Task>? onSessionStart = null) =>
        TestHost.StartAsync(
            o =>
            {
                o.RegenerateUnknownSessionIds = false;
                o.Events.OnSessionStart = onSessionStart;
            },
            b => b.AddRedisSessionStateProviderStore(o => Configure(o, format)));

    private async Task<string> UninitializedAsync(LegacyProviderSimulator classic)
    {
        var id = SessionIds.Create();
        await classic.CreateUninitializedItemAsync(id);
        Assert.True((await classic.BeginReadOnlyAsync(id)).IsNewSession);
        return id;
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task After_a_write_here_the_classic_side_no_longer_sees_the_session_as_uninitialized(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = await UninitializedAsync(classic);
        await using var host = await HostAsync(format);
        using var client = host.CreateClient();
        client.SessionId = id;

        using (var response = await client.PostAsync("/set?key=a&value=1"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var request = await classic.BeginExclusiveAsync(id);
        Assert.False(request.IsNewSession, "the classic side still sees the provider's SessionStateActions item");
        Assert.Equal(["a"], request.Items.Select(i => i.Key));
        Assert.Equal("1", request["a"]);
        Assert.True(await request.EndAsync());
        Assert.Equal(id, client.SessionId);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task An_uninitialized_classic_session_is_new_here_runs_OnSessionStart_and_never_shows_the_providers_item(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = await UninitializedAsync(classic);
        var started = 0;
        await using var host = await HostAsync(format, context =>
        {
            Interlocked.Increment(ref started);
            context.Session["started"] = "here";
            return Task.CompletedTask;
        });
        using var client = host.CreateClient();
        client.SessionId = id;

        var info = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");

        Assert.True(info.IsNew, "an uninitialized classic session was not new here");
        Assert.Equal(1, started);
        Assert.Equal(["started"], info.Keys);
        Assert.Equal(id, info.Id);
        var again = await client.GetJsonAsync<TestEndpoints.SessionInfo>("/info");
        Assert.False(again.IsNew);
        Assert.Equal(1, started);
        var request = await classic.BeginReadOnlyAsync(id);
        Assert.False(request.IsNewSession);
        Assert.Equal("here", request["started"]);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task The_store_reports_an_uninitialized_session_as_not_found_and_takes_no_lock_unless_asked_to_create(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = await UninitializedAsync(classic);
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();

        Assert.Equal(SessionStoreStatus.NotFound, (await store.GetSharedAsync(id, default)).Status);
        var lookup = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.Equal(SessionStoreStatus.NotFound, lookup.Status);
        Assert.False(lookup.HasLock);
        Assert.False(await _redis.GetDatabase().KeyExistsAsync(classic.Keys(id)[0]), "a lookup without createIfMissing left a lock");

        var taken = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        Assert.Equal(SessionStoreStatus.NotFound, taken.Status);
        Assert.True(taken.HasLock);
        Assert.True(await store.ReleaseAsync(id, taken.LockId, default));

        // Released without a write: nobody started the session, so the classic side still sees it as new.
        Assert.True((await classic.BeginReadOnlyAsync(id)).IsNewSession);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task Every_write_back_removes_the_providers_item(RedisSessionStateProviderFormat format)
    {
        var classic = Classic(format);
        var id = SessionIds.Create();
        var first = await classic.BeginExclusiveAsync(id);
        first["a"] = "1";
        Assert.True(await first.EndAsync());
        await using var services = Services(format);
        var store = services.GetRequiredService<ISessionStateStore>();
        var format2 = services.GetRequiredService<ISessionItemFormat>();
        var taken = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.Found, taken.Status);

        // The item appears under the holder (the provider's CreateUninitializedItem writes without a lock).
        await classic.CreateUninitializedItemAsync(id);
        var changes = new SessionChanges(new Dictionary<string, byte[]> { ["b"] = format2.Encode("b", "2", typeof(string)) }, [], TimeSpan.FromMinutes(20), isNew: false);
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, changes, default));

        var request = await classic.BeginReadOnlyAsync(id);
        Assert.False(request.IsNewSession);
        Assert.DoesNotContain(request.Items, i => i.Key == LegacyProviderSimulator.SessionStateActions);
        Assert.Equal("2", request["b"]);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task An_item_of_SessionStateActions_None_leaves_the_session_as_it_is_and_is_hidden_too(RedisSessionStateProviderFormat format)
    {
        // The provider reads the item as Enum.Parse of its text: None is no action (its own unit tests store it).
        var classic = Classic(format);
        var id = SessionIds.Create();
        var first = await classic.BeginExclusiveAsync(id);
        first["a"] = "1";
        Assert.True(await first.EndAsync());
        var keys = classic.Keys(id);
        if (format == RedisSessionStateProviderFormat.V5)
        {
            await _redis.GetDatabase().StringSetAsync(keys[1], LegacyCollection.Write([new("a", "1"), new(LegacyProviderSimulator.SessionStateActions, new OpaqueObject(LegacyCollection.EnumRecord(0)))]));
        }
        else
        {
            await _redis.GetDatabase().HashSetAsync(keys[1], LegacyProviderSimulator.SessionStateActions, LegacyJson.Serialize(0));
        }

        await using var services = Services(format);
        var loaded = await services.GetRequiredService<ISessionStateStore>().GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Equal(["a"], loaded.Data!.Items.Keys);
    }

    [Theory]
    [InlineData(RedisSessionStateProviderFormat.V5)]
    [InlineData(RedisSessionStateProviderFormat.V4)]
    public async Task The_application_cannot_store_an_item_under_the_providers_name(RedisSessionStateProviderFormat format)
    {
        await using var services = Services(format);
        var itemFormat = services.GetRequiredService<ISessionItemFormat>();

        var error = Assert.Throws<SessionSerializationException>(() => itemFormat.Encode("sessionStateActions", 1, typeof(int)));
        Assert.Equal("sessionStateActions", error.Key);
        Assert.Contains("RedisSessionStateProvider's own item", error.Message);
        Assert.Throws<SessionSerializationException>(() => itemFormat.EncodeBytes("SessionStateActions", [1]));
    }
}
