using System.Text;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>The store contract on a three-master Redis Cluster: one slot per session, fencing, releases published across nodes.</summary>
public sealed class RedisClusterStoreTests : IClassFixture<RedisClusterFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly RedisClusterFixture _cluster;
    private readonly string _prefix = "cstore-" + Guid.NewGuid().ToString("N")[..8];
    private RedisSessionStateStore _first = null!;
    private RedisSessionStateStore _second = null!;

    public RedisClusterStoreTests(RedisClusterFixture cluster) => _cluster = cluster;

    public Task InitializeAsync()
    {
        _first = NewStore();
        _second = NewStore();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task Sessions_spread_over_the_nodes_and_all_keys_of_one_session_live_on_one_node()
    {
        var nodesUsed = new HashSet<int>();
        for (var i = 0; i < 12; i++)
        {
            var id = SessionIds.Create();
            var created = await _first.GetExclusiveAsync(id, LockTimeout, true, default);
            var changes = new SessionChanges(new Dictionary<string, byte[]> { ["k"] = Encoding.UTF8.GetBytes("v" + i) }, [], TimeSpan.FromMinutes(5), true);
            Assert.True(await _first.WriteAndReleaseAsync(id, created.LockId, changes, default));
            var held = await _first.GetExclusiveAsync(id, LockTimeout, false, default); // session and lock both exist now

            var holders = new List<(int Node, string[] Keys)>();
            foreach (var (node, index) in _cluster.Nodes.Select((n, index) => (n, index)))
            {
                using var client = await node.ConnectAsync();
                var keys = await client.KeysAsync($"{{{_prefix}:{id}}}*");
                if (keys.Length > 0)
                {
                    holders.Add((index, keys));
                }
            }

            var (owner, ownedKeys) = Assert.Single(holders);
            Assert.Equal(2, ownedKeys.Length);
            nodesUsed.Add(owner);
            Assert.Equal("v" + i, Encoding.UTF8.GetString(held.Data!.Items["k"]));
            Assert.True(await _first.ReleaseAsync(id, held.LockId, default));
        }

        Assert.True(nodesUsed.Count >= 2, "twelve random sessions all landed on one node");
    }

    [Fact]
    public async Task Fencing_holds_across_servers_and_tokens_only_grow()
    {
        var id = SessionIds.Create();
        var created = await _first.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await _first.WriteAndReleaseAsync(id, created.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["k"] = [1] }, [], TimeSpan.FromMinutes(5), true), default));

        var stale = await _first.GetExclusiveAsync(id, LockTimeout, false, default);
        var blocked = await _second.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal(SessionStoreStatus.Locked, blocked.Status);
        Assert.Equal(stale.LockId, blocked.LockId);
        Assert.True(await _second.ForceReleaseAsync(id, blocked.LockId, default));
        var current = await _second.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(current.LockId.Token > stale.LockId.Token);

        Assert.False(await _first.WriteAndReleaseAsync(id, stale.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["k"] = [9] }, [], TimeSpan.FromMinutes(5), false), default));
        Assert.True(await _second.WriteAndReleaseAsync(id, current.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["k"] = [2] }, [], TimeSpan.FromMinutes(5), false), default));
        Assert.Equal([2], (await _first.GetSharedAsync(id, default)).Data!.Items["k"]);

        var last = await _first.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(await _first.RemoveAsync(id, last.LockId, default));
        var recreated = await _second.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(recreated.LockId.Token > last.LockId.Token);
    }

    [Fact]
    public async Task A_release_on_one_server_wakes_a_subscriber_on_another()
    {
        var ids = Enumerable.Range(0, 6).Select(_ => SessionIds.Create()).ToArray(); // several slots, so several nodes
        foreach (var id in ids)
        {
            using var woken = new SemaphoreSlim(0);
            await using var subscription = await _second.SubscribeAsync(id, () => woken.Release(), default);

            var held = await _first.GetExclusiveAsync(id, LockTimeout, true, default);
            Assert.True(await _first.ReleaseAsync(id, held.LockId, default));

            Assert.True(await woken.WaitAsync(TimeSpan.FromSeconds(5)), "the release was not delivered across the cluster");
        }
    }

    [Fact]
    public Task A_force_released_holder_cannot_write_on_a_cluster() =>
        RedisMultiServerTests.ForceReleasedHolderCannotWrite(_cluster.Configuration, _prefix);

    private RedisSessionStateStore NewStore() => new(new RedisSessionStoreOptions
    {
        Configuration = _cluster.Configuration,
        KeyPrefix = _prefix,
    });
}
