using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Redis;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestUtilities;

namespace SessionLocking.Tests.Legacy;

/// <summary>
/// The RedisSessionStateProvider store on the Redis plumbing it shares with the Redis store: scripts by SHA1 (preloaded),
/// releases on sharded channels, durable writes, the clean-up of an acquire it gave up on (logged and counted). Each
/// test has a Redis server of its own, so that command statistics and pauses are its own.
/// </summary>
public sealed class LegacyPlumbingTests : IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _application = "plumbing-" + Guid.NewGuid().ToString("N")[..8];
    private RedisServer _server = null!;

    public async Task InitializeAsync() => _server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Fact]
    public async Task The_legacy_store_runs_its_scripts_by_sha_and_never_sends_their_text()
    {
        await using var services = Services(o => { });
        var store = services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        await store.GetSharedAsync(SessionIds.Create(), default); // connected (its checks at connect run EVALs of their own)
        using var client = await _server.ConnectAsync();
        var before = await client.CommandStatsAsync();

        var taken = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, Changes(isNew: true), default));
        Assert.Equal(SessionStoreStatus.Found, (await store.GetSharedAsync(id, default)).Status);
        await store.KeepAliveAsync(id, default);

        var stats = await client.CommandStatsAsync();
        Assert.Equal(0, stats.GetValueOrDefault("eval") - before.GetValueOrDefault("eval"));
        Assert.Equal(4, stats.GetValueOrDefault("evalsha") - before.GetValueOrDefault("evalsha"));
        Assert.True(stats.GetValueOrDefault("script|load") >= 9, $"scripts preloaded: {stats.GetValueOrDefault("script|load")}");
    }

    [Fact]
    public async Task Legacy_releases_go_over_a_sharded_channel_on_redis_7_where_the_client_has_them_and_wake_the_subscriber()
    {
        var sharded = RedisReleaseChannels.ClientSupportsSharded;
        await using var services = Services(o => { });
        var store = services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        var channel = "SessionLocking:RedisSessionStateProvider:{" + _application + "_" + id + "}:released";
        var taken = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        var woken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var subscription = await ((ISessionReleaseNotifications)store).SubscribeAsync(id, () => woken.TrySetResult(), default);
        Assert.Equal(sharded ? 1 : 0, await ShardedPubSubProbe.ShardedSubscribersAsync(_server, channel));
        Assert.Equal(sharded ? 0 : 1, await ShardedPubSubProbe.ClassicSubscribersAsync(_server, channel));
        var before = await ShardedPubSubProbe.PublishCallsAsync(_server);

        Assert.True(await store.WriteAndReleaseAsync(id, taken.LockId, Changes(isNew: true), default));

        await woken.Task.WaitAsync(TimeSpan.FromSeconds(10));
        var after = await ShardedPubSubProbe.PublishCallsAsync(_server);
        Assert.Equal(sharded ? (before.Publish, before.ShardPublish + 1) : (before.Publish + 1, before.ShardPublish), (after.Publish, after.ShardPublish));
    }

    [Fact]
    public async Task With_MinReplicasAcknowledged_and_no_replica_an_acquire_fails_naming_the_option_and_leaves_no_lock()
    {
        await using var services = Services(o =>
        {
            o.MinReplicasAcknowledged = 1;
            o.ReplicaAckTimeout = TimeSpan.FromMilliseconds(100);
        });
        var store = services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();

        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Contains("RedisSessionStateProviderStoreOptions.MinReplicasAcknowledged", error.Message, StringComparison.Ordinal);
        Assert.Contains("only 0 of 1 replicas", error.Message, StringComparison.Ordinal);
        using var client = await _server.ConnectAsync();
        Assert.Equal(0, await client.IntegerAsync("EXISTS", LockKey(id)));
    }

    [Fact]
    public async Task With_MinReplicasAcknowledged_and_no_replica_a_write_back_is_reported_as_failed()
    {
        await using var plain = Services(o => { });
        var seeded = plain.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        var taken = await seeded.GetExclusiveAsync(id, LockTimeout, true, default);
        await using var durable = Services(o =>
        {
            o.MinReplicasAcknowledged = 1;
            o.ReplicaAckTimeout = TimeSpan.FromMilliseconds(100);
        });

        var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () =>
            await durable.GetRequiredService<ISessionStateStore>().WriteAndReleaseAsync(id, taken.LockId, Changes(isNew: true), default));

        Assert.Equal("write-back", error.Operation);
        Assert.Contains("its outcome is unknown", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_acquire_cut_off_during_a_pause_leaves_no_lock_and_is_logged_and_counted()
    {
        var events = new TestLog.CollectingProvider();
        long released = 0;
        await using var services = Services(o => o.OperationTimeout = TimeSpan.FromMilliseconds(150), s => s.AddLogging(b => b.AddProvider(events)));
        using var listener = new MeterListener();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter.Scope, meterFactory) && instrument.Name == RedisSessionStateStore.AbandonedReleasedCounter)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref released, value));
        listener.Start();
        var store = services.GetRequiredService<ISessionStateStore>();
        var id = SessionIds.Create();
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                await store.GetSharedAsync(id, default); // connected, scripts loaded (the short timeout may cut a first call on a loaded machine)
                break;
            }
            catch (SessionStoreUnavailableException) when (attempt < 10)
            {
            }
        }

        var pause = TimeSpan.FromMilliseconds(600);
        using (var admin = await _server.ConnectAsync())
        {
            await admin.CommandAsync("CLIENT", "PAUSE", ((long)pause.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture), "WRITE");
        }

        var pauseEnds = DateTime.UtcNow + pause;
        await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));
        await Task.Delay(pauseEnds - DateTime.UtcNow);

        // The count comes with the clean-up's answer on the client, which on a loaded machine can come seconds after Redis
        // answered: "eventually" is generous here (it failed once at 5 s in a focused run while other builds ran).
        await FaultKit.Until(() => Interlocked.Read(ref released) == 1, TimeSpan.FromSeconds(10), "the abandoned lock released and counted");
        Assert.Contains(events.Events, e => e.Id.Name == "RedisAbandonedLockReleased");
        using var client = await _server.ConnectAsync();
        Assert.Equal(0, await client.IntegerAsync("EXISTS", LockKey(id)));
    }

    private static SessionChanges Changes(bool isNew) =>
        new(new Dictionary<string, byte[]> { ["a"] = [21] }, [], TimeSpan.FromMinutes(1), isNew);

    private string LockKey(string id) => "{" + _application + "_" + id + "}_WriteLock";

    private ServiceProvider Services(Action<RedisSessionStateProviderStoreOptions> configure, Action<IServiceCollection>? more = null)
    {
        var services = new ServiceCollection().AddLogging().AddMetrics();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().Build());
        more?.Invoke(services);
        services.AddLockedSession().AddRedisSessionStateProviderStore(o =>
        {
            o.Configuration = _server.Configuration;
            o.ApplicationName = _application;
            configure(o);
        });
        return services.BuildServiceProvider();
    }
}
