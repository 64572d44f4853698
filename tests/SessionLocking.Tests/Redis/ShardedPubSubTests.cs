using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Redis;
using SessionLocking.Tests.Infrastructure;
using StackExchange.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Releases over sharded pub/sub (Redis 7: SPUBLISH from the scripts, SSUBSCRIBE by waiters) where the server and the
/// client have it, classic PUBLISH/SUBSCRIBE otherwise. Who is subscribed and what was published is read from the
/// servers (PUBSUB NUMSUB / SHARDNUMSUB, CLUSTER INFO bus counters, INFO commandstats), not from the client.
/// </summary>
/// <remarks>
/// StackExchange.Redis 2.7.27 (the package's floor, the default build) has no sharded channels, so there the store must
/// choose classic pub/sub on Redis 7 too, and these tests check exactly that; the run against the newest client
/// (scripts/test.sh, StackExchange.Redis 2.13.23) checks the sharded path.
/// </remarks>
public sealed class ShardedPubSubClusterTests(RedisClusterFixture cluster) : IClassFixture<RedisClusterFixture>
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "shard-" + Guid.NewGuid().ToString("N")[..8];

    private static bool Sharded => RedisReleaseChannels.ClientSupportsSharded;

    [Fact]
    public async Task The_store_decides_by_the_client_and_the_server_redis_7_and_a_client_with_sharded_channels_mean_sharded()
    {
        await using var store = NewStore(cluster.Configuration);
        Assert.Equal(Sharded, await store.UsesShardedChannelsAsync(default));

        await using var classic = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = cluster.Configuration, KeyPrefix = _prefix })
        {
            ReleaseChannels = ReleaseChannelChoice.Classic,
        };
        Assert.False(await classic.UsesShardedChannelsAsync(default));
    }

    [Fact]
    public async Task A_release_on_one_server_wakes_a_subscriber_on_another_on_the_owning_shard_only()
    {
        await using var first = NewStore(cluster.Configuration);
        await using var second = NewStore(cluster.Configuration);
        for (var i = 0; i < 4; i++) // several sessions: several slots, several owning nodes
        {
            var seen = await ReleaseObservation.ObserveAsync(first, second, cluster.Nodes, _prefix, channelPrefix: "");
            seen.AssertDelivered(Sharded, nodes: cluster.Nodes.Count);
        }
    }

    [Fact]
    public async Task The_client_channel_prefix_is_kept_on_sharded_channels()
    {
        var options = ConfigurationOptions.Parse(cluster.Configuration);
        options.ChannelPrefix = RedisChannel.Literal("app1:");
        await using var first = NewStore(options);
        await using var second = NewStore(options);

        var seen = await ReleaseObservation.ObserveAsync(first, second, cluster.Nodes, _prefix, channelPrefix: "app1:");

        seen.AssertDelivered(Sharded, nodes: cluster.Nodes.Count);
    }

    [Fact]
    public async Task A_channel_prefix_with_braces_would_move_the_channel_to_another_slot_so_it_stays_classic()
    {
        var options = ConfigurationOptions.Parse(cluster.Configuration);
        options.ChannelPrefix = RedisChannel.Literal("{tenant}:");
        await using var first = NewStore(options);
        await using var second = NewStore(options);
        Assert.False(await second.UsesShardedChannelsAsync(default));

        var seen = await ReleaseObservation.ObserveAsync(first, second, cluster.Nodes, _prefix, channelPrefix: "{tenant}:");

        seen.AssertDelivered(sharded: false, nodes: cluster.Nodes.Count);
    }

    [Fact]
    public async Task A_waiter_on_another_server_wakes_at_once_through_the_cluster_with_a_20_second_poll()
    {
        await using var first = await StartHostAsync(cluster.Configuration, _prefix);
        await using var second = await StartHostAsync(cluster.Configuration, _prefix);
        using var a = first.CreateClient();
        using var b = second.CreateClient(TimeSpan.FromSeconds(60));
        (await a.PostAsync("/set?key=k&value=1")).Dispose();
        b.SessionId = a.SessionId;
        var channel = ShardedPubSubProbe.Channel(_prefix, a.SessionId!);

        var holder = await first.HoldLockAsync(a, "held");
        var owner = await ShardedPubSubProbe.OwnerAsync(cluster.Nodes, _prefix, a.SessionId!);
        var waiter = b.PostAsync("/set?key=k&value=2");
        var coordinator = second.Services.GetRequiredService<SessionLockCoordinator>();
        await WaitUntil(async () => coordinator.WaitingCount(a.SessionId!) == 1 && await SubscribersAsync(cluster.Nodes, channel) > 0);

        // While it waits: subscribed on the owning node's shard channel only (sharded), or on a classic channel only.
        Assert.Equal(Sharded ? 1 : 0, await ShardedPubSubProbe.ShardedSubscribersAsync(owner, channel));
        Assert.Equal(Sharded ? 0 : 1, await ClassicSubscribersAsync(cluster.Nodes, channel));

        var released = Stopwatch.StartNew();
        first.Gate.Open();
        using (var held = await holder)
        {
            Assert.Equal(HttpStatusCode.OK, held.StatusCode);
        }

        using var response = await waiter;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(5), $"the waiter on the other server went {released.Elapsed.TotalSeconds:0.0} s after the release (its poll is 20 s)");
        Assert.Equal("2", await a.GetJsonAsync<string>("/get?key=k"));
    }

    internal static Task<TestHost> StartHostAsync(string configuration, string prefix) =>
        TestHost.StartAsync(
            o =>
            {
                o.PollInterval = TimeSpan.FromSeconds(20);
                o.LockWaitTimeout = TimeSpan.FromSeconds(60);
            },
            store => store.AddRedisStore(o =>
            {
                o.Configuration = configuration;
                o.KeyPrefix = prefix;
            }));

    internal static async Task<long> SubscribersAsync(IReadOnlyList<RedisServer> nodes, string channel)
    {
        var total = 0L;
        foreach (var node in nodes)
        {
            total += await ShardedPubSubProbe.ClassicSubscribersAsync(node, channel) + await ShardedPubSubProbe.ShardedSubscribersAsync(node, channel);
        }

        return total;
    }

    internal static async Task<long> ClassicSubscribersAsync(IReadOnlyList<RedisServer> nodes, string channel)
    {
        var total = 0L;
        foreach (var node in nodes)
        {
            total += await ShardedPubSubProbe.ClassicSubscribersAsync(node, channel);
        }

        return total;
    }

    internal static async Task WaitUntil(Func<Task<bool>> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(10), "the condition did not hold within 10 s");
            await Task.Delay(20);
        }
    }

    private RedisSessionStateStore NewStore(string configuration) =>
        new(new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = _prefix });

    private RedisSessionStateStore NewStore(ConfigurationOptions options) =>
        new(new RedisSessionStoreOptions { ConfigurationOptions = options, KeyPrefix = _prefix });

    /// <summary>
    /// One release seen from the servers: the publisher takes a new session's lock, the subscriber subscribes to its
    /// channel, the publisher releases; what each node counted before and after.
    /// </summary>
    internal sealed record ReleaseObservation(
        bool Woken,
        long ShardedOnOwner,
        long ShardedElsewhere,
        long Classic,
        long PublishCalls,
        long ShardPublishCalls,
        long BusPublishSent,
        long BusPublishShardSent,
        bool IsCluster)
    {
        public static async Task<ReleaseObservation> ObserveAsync(
            RedisSessionStateStore publisher, RedisSessionStateStore subscriber, IReadOnlyList<RedisServer> nodes, string prefix, string channelPrefix)
        {
            var isCluster = nodes.Count > 1;
            var id = SessionIds.Create();
            var held = await publisher.GetExclusiveAsync(id, LockTimeout, true, default);
            Assert.Equal(SessionStoreStatus.NotFound, held.Status);
            var owner = await ShardedPubSubProbe.OwnerAsync(nodes, prefix, id);
            var channel = ShardedPubSubProbe.Channel(prefix, id, channelPrefix);

            using var woken = new SemaphoreSlim(0);
            await using var subscription = await subscriber.SubscribeAsync(id, () => woken.Release(), default);
            long shardedOnOwner = 0, shardedElsewhere = 0, classic = 0;
            foreach (var node in nodes)
            {
                var sharded = await ShardedPubSubProbe.ShardedSubscribersAsync(node, channel);
                if (node == owner)
                {
                    shardedOnOwner = sharded;
                }
                else
                {
                    shardedElsewhere += sharded;
                }

                classic += await ShardedPubSubProbe.ClassicSubscribersAsync(node, channel);
            }

            var calls = await ShardedPubSubProbe.PublishCallsAsync(owner);
            var bus = isCluster ? await BusAsync(nodes) : (0L, 0L);

            Assert.True(await publisher.ReleaseAsync(id, held.LockId, default));
            var delivered = await woken.WaitAsync(TimeSpan.FromSeconds(5));

            var callsAfter = await ShardedPubSubProbe.PublishCallsAsync(owner);
            var busAfter = isCluster ? await BusAsync(nodes) : (0L, 0L);
            return new ReleaseObservation(
                delivered,
                shardedOnOwner,
                shardedElsewhere,
                classic,
                callsAfter.Publish - calls.Publish,
                callsAfter.ShardPublish - calls.ShardPublish,
                busAfter.Item1 - bus.Item1,
                busAfter.Item2 - bus.Item2,
                isCluster);
        }

        /// <summary>Sharded: one SSUBSCRIBE on the owner, one SPUBLISH, no broadcast on the bus. Classic: one SUBSCRIBE, one PUBLISH, broadcast to every other node.</summary>
        public void AssertDelivered(bool sharded, int nodes)
        {
            Assert.True(Woken, "the release did not wake the subscriber on the other server");
            if (sharded)
            {
                Assert.Equal((1L, 0L, 0L), (ShardedOnOwner, ShardedElsewhere, Classic));
                Assert.Equal((0L, 1L), (PublishCalls, ShardPublishCalls));
                Assert.Equal(0L, BusPublishSent); // nothing broadcast (no replicas: the shard is one node)
            }
            else
            {
                Assert.Equal((0L, 0L, 1L), (ShardedOnOwner, ShardedElsewhere, Classic));
                Assert.Equal((1L, 0L), (PublishCalls, ShardPublishCalls));
                Assert.Equal(IsCluster ? nodes - 1 : 0, BusPublishSent); // broadcast to every other node of the cluster
            }

            Assert.Equal(0L, BusPublishShardSent);
        }

        private static async Task<(long, long)> BusAsync(IReadOnlyList<RedisServer> nodes)
        {
            long sent = 0, shardSent = 0;
            foreach (var node in nodes)
            {
                var counters = await ShardedPubSubProbe.BusCountersAsync(node);
                sent += counters["publish_sent"];
                shardSent += counters["publishshard_sent"];
            }

            return (sent, shardSent);
        }
    }
}

/// <summary>Sharded pub/sub on a standalone Redis 7, and classic when the server refuses COMMAND (so cannot tell).</summary>
public sealed class ShardedPubSubStandaloneTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = "shard1-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_release_wakes_a_subscriber_on_another_server_over_a_sharded_channel_on_redis_7()
    {
        await using var first = NewStore(redis.Configuration);
        await using var second = NewStore(redis.Configuration);
        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded, await second.UsesShardedChannelsAsync(default));

        for (var i = 0; i < 3; i++)
        {
            var seen = await ShardedPubSubClusterTests.ReleaseObservation.ObserveAsync(first, second, [redis.Server], _prefix, channelPrefix: "");
            seen.AssertDelivered(RedisReleaseChannels.ClientSupportsSharded, nodes: 1);
        }
    }

    [Fact]
    public async Task A_waiter_on_another_server_wakes_at_once_with_a_20_second_poll()
    {
        await using var first = await ShardedPubSubClusterTests.StartHostAsync(redis.Configuration, _prefix);
        await using var second = await ShardedPubSubClusterTests.StartHostAsync(redis.Configuration, _prefix);
        using var a = first.CreateClient();
        using var b = second.CreateClient(TimeSpan.FromSeconds(60));
        (await a.PostAsync("/set?key=k&value=1")).Dispose();
        b.SessionId = a.SessionId;
        var channel = ShardedPubSubProbe.Channel(_prefix, a.SessionId!);

        var holder = await first.HoldLockAsync(a, "held");
        var waiter = b.PostAsync("/set?key=k&value=2");
        await ShardedPubSubClusterTests.WaitUntil(async () => await ShardedPubSubClusterTests.SubscribersAsync([redis.Server], channel) > 0);
        var sharded = RedisReleaseChannels.ClientSupportsSharded;
        Assert.Equal(sharded ? 1 : 0, await ShardedPubSubProbe.ShardedSubscribersAsync(redis.Server, channel));
        Assert.Equal(sharded ? 0 : 1, await ShardedPubSubProbe.ClassicSubscribersAsync(redis.Server, channel));

        var released = Stopwatch.StartNew();
        first.Gate.Open();
        (await holder).Dispose();
        using var response = await waiter;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(released.Elapsed < TimeSpan.FromSeconds(5), $"the waiter on the other server went {released.Elapsed.TotalSeconds:0.0} s after the release (its poll is 20 s)");
    }

    [Fact]
    public async Task A_server_that_refuses_COMMAND_gets_classic_pub_sub_and_waiters_still_wake()
    {
        await using var server = await RedisServer.StartAsync(extraArgs: ["--rename-command", "COMMAND", ""]);
        await using var first = NewStore(server.Configuration);
        await using var second = NewStore(server.Configuration);
        Assert.False(await second.UsesShardedChannelsAsync(default));

        var seen = await ShardedPubSubClusterTests.ReleaseObservation.ObserveAsync(first, second, [server], _prefix, channelPrefix: "");

        seen.AssertDelivered(sharded: false, nodes: 1);
    }

    [Fact]
    public async Task The_store_asks_again_after_the_client_restores_its_connection_and_releases_still_wake()
    {
        await using var server = await RedisServer.StartAsync();
        await using var first = NewStore(server.Configuration);
        await using var second = NewStore(server.Configuration);
        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded, await first.UsesShardedChannelsAsync(default));
        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded, await second.UsesShardedChannelsAsync(default));
        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded ? 2 : 0, await CommandInfoCallsAsync(server)); // once per store

        await server.RestartAsync(); // a new server: its counters start at 0; the clients reconnect by themselves

        // Both stores ask the new server once more when their connections are restored (only where the client could go sharded).
        if (RedisReleaseChannels.ClientSupportsSharded)
        {
            await ShardedPubSubClusterTests.WaitUntil(async () => await CommandInfoCallsAsync(server) >= 2);
        }

        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded, await second.UsesShardedChannelsAsync(default));
        var seen = await ShardedPubSubClusterTests.ReleaseObservation.ObserveAsync(first, second, [server], _prefix, channelPrefix: "");
        seen.AssertDelivered(RedisReleaseChannels.ClientSupportsSharded, nodes: 1);
        Assert.Equal(RedisReleaseChannels.ClientSupportsSharded ? 2 : 0, await CommandInfoCallsAsync(server));
    }

    private static async Task<long> CommandInfoCallsAsync(RedisServer server)
    {
        using var client = await server.ConnectAsync();
        return (await client.CommandStatsAsync()).GetValueOrDefault("command|info");
    }

    private RedisSessionStateStore NewStore(string configuration) =>
        new(new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = _prefix });
}

/// <summary>
/// Garnet 2.2.12 reports redis_version 7.4.3 and knows SPUBLISH, but refuses it in scripts (flag noscript): the store must
/// see that and stay on classic pub/sub, and waiters must still wake.
/// </summary>
public sealed class GarnetShardedPubSubTests(GarnetFixture garnet) : IClassFixture<GarnetFixture>
{
    private readonly string _prefix = "gshard-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Garnet_gets_classic_pub_sub_and_a_release_wakes_a_subscriber_on_another_server()
    {
        await using var first = NewStore();
        await using var second = NewStore();
        Assert.False(await second.UsesShardedChannelsAsync(default));

        for (var i = 0; i < 3; i++)
        {
            var id = SessionIds.Create();
            var held = await first.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), true, default);
            using var woken = new SemaphoreSlim(0);
            await using var subscription = await second.SubscribeAsync(id, () => woken.Release(), default);
            Assert.Equal(1, await ShardedPubSubProbe.ClassicSubscribersAsync(garnet.Server, ShardedPubSubProbe.Channel(_prefix, id)));

            Assert.True(await first.ReleaseAsync(id, held.LockId, default));

            Assert.True(await woken.WaitAsync(TimeSpan.FromSeconds(5)), "the release was not delivered on Garnet");
        }
    }

    [Fact]
    public async Task A_script_told_to_SPUBLISH_where_the_server_refuses_it_falls_back_to_PUBLISH_and_still_releases()
    {
        // What a server that refuses SPUBLISH in scripts does if a store was told otherwise (say, a rolling upgrade).
        await using var subscriberStore = NewStore();
        var id = SessionIds.Create();
        using var woken = new SemaphoreSlim(0);
        await using var subscription = await subscriberStore.SubscribeAsync(id, () => woken.Release(), default);
        using var client = await garnet.Server.ConnectAsync();
        var session = $"{{{_prefix}:{id}}}:session";
        var lockKey = $"{{{_prefix}:{id}}}:lock";
        await client.CommandAsync("HSET", lockKey, "token", "5", "at", "1", "owner", "x");

        var answer = await client.CommandAsync("EVAL", RedisSessionStateStore.ForceReleaseScript, "2", session, lockKey, "5", ShardedPubSubProbe.Channel(_prefix, id), "1");

        Assert.Equal(1L, answer);
        Assert.Equal(0L, await client.IntegerAsync("EXISTS", lockKey));
        Assert.True(await woken.WaitAsync(TimeSpan.FromSeconds(5)), "the fallback PUBLISH did not reach the classic subscriber");
    }

    private RedisSessionStateStore NewStore() =>
        new(new RedisSessionStoreOptions { Configuration = garnet.Configuration, KeyPrefix = _prefix });
}

/// <summary>Which client the tests run on decides which path the tests above check; this pins it.</summary>
public sealed class ShardedChannelClientTests
{
    [Fact]
    public void The_floor_client_has_no_sharded_channels_and_the_newest_has_them()
    {
        var version = Version.Parse(FileVersionInfo.GetVersionInfo(typeof(RedisChannel).Assembly.Location).FileVersion!);
        if (version < new Version(2, 8))
        {
            Assert.False(RedisReleaseChannels.ClientSupportsSharded, $"StackExchange.Redis {version} was not expected to have RedisChannel.Sharded");
        }
        else if (version >= new Version(2, 13))
        {
            Assert.True(RedisReleaseChannels.ClientSupportsSharded, $"StackExchange.Redis {version} has RedisChannel.Sharded, but the store did not find it");
            Assert.True(RedisReleaseChannels.Channel("{p:x}:released", sharded: true).IsSharded());
        }

        Assert.False(RedisReleaseChannels.Channel("{p:x}:released", sharded: false).IsSharded());
    }
}

internal static class RedisChannelShardedExtensions
{
    /// <summary><c>RedisChannel.IsSharded</c> where the client has it (2.7.27 does not).</summary>
    public static bool IsSharded(this RedisChannel channel) =>
        typeof(RedisChannel).GetProperty("IsSharded")?.GetValue(channel) is true;
}
