using SessionLocking.Redis;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>Session_End on a three-master Redis Cluster: one ends index per slot, every node's part swept.</summary>
public sealed class RedisClusterSessionEndTests : IClassFixture<RedisClusterFixture>
{
    private readonly RedisClusterFixture _cluster;
    private readonly string _prefix = "cends-" + Guid.NewGuid().ToString("N")[..8];
    private readonly SessionEndRecorder _ends = new();

    public RedisClusterSessionEndTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task Three_servers_on_a_cluster_raise_every_end_once_with_its_items_by_abandon_and_by_timeout()
    {
        try
        {
            await SessionEndFarm.RaisesEveryEndOnceAsync(_cluster.Configuration, _prefix, _ends, 1000, sweep: TimeSpan.FromMilliseconds(500));
        }
        finally
        {
            var fallbacks = string.Join(" / ", TestLog.Events.Where(e => e.Id.Name == "SessionEndNodeSweepUnavailable").Select(e => e.Message));
            Assert.True(fallbacks.Length == 0, fallbacks);
        }


        // Ends on every node, and nothing left behind on any.
        var raisedBy = new HashSet<int>();
        foreach (var (node, i) in _cluster.Nodes.Select((n, i) => (n, i)))
        {
            using var inspect = await node.ConnectAsync();
            Assert.Empty(await inspect.KeysAsync("{" + _prefix + ":*:ended"));
            Assert.Empty(await inspect.KeysAsync("{" + _prefix + ":*:session"));
            if ((await inspect.CommandStatsAsync()).GetValueOrDefault("rename") > 0)
            {
                raisedBy.Add(i);
            }
        }

        Assert.Equal(3, raisedBy.Count);
    }

    [Fact]
    public async Task On_a_cluster_a_claim_is_one_servers_alone_until_its_lease_runs_out()
    {
        await using var dead = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = _cluster.Configuration, KeyPrefix = _prefix });
        await using var other = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = _cluster.Configuration, KeyPrefix = _prefix });
        dead.TrackEnds(() => { });
        other.TrackEnds(() => { });
        var ids = new List<string>();
        for (var i = 0; i < 12; i++)
        {
            var id = SessionIds.Create();
            ids.Add(id);
            var taken = await dead.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: true, CancellationToken.None);
            var items = new Dictionary<string, byte[]> { ["seat"] = System.Text.Encoding.UTF8.GetBytes("s" + i) };
            Assert.True(await dead.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(items, [], TimeSpan.FromMinutes(20), isNew: true), CancellationToken.None));
            var again = await dead.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: false, CancellationToken.None);
            Assert.True(await dead.AbandonAsync(id, again.LockId, new SessionChanges(new Dictionary<string, byte[]>(), [], TimeSpan.FromMinutes(20), isNew: false), CancellationToken.None));
        }

        var lease = TimeSpan.FromSeconds(2);
        var first = await dead.ClaimEndsAsync(100, lease, CancellationToken.None);
        Assert.Equal(ids.Order(), first.Select(c => c.SessionId).Order());
        Assert.Empty(await other.ClaimEndsAsync(100, lease, CancellationToken.None));

        await Task.Delay(lease + TimeSpan.FromMilliseconds(200));
        var second = await other.ClaimEndsAsync(100, lease, CancellationToken.None);
        Assert.Equal(ids.Order(), second.Select(c => c.SessionId).Order());
        foreach (var claim in second)
        {
            Assert.Equal("s" + ids.IndexOf(claim.SessionId), System.Text.Encoding.UTF8.GetString(claim.Data.Items["seat"]));
            Assert.True(await other.CompleteEndAsync(claim, CancellationToken.None));
        }

        Assert.False(await dead.CompleteEndAsync(first[0], CancellationToken.None));
        Assert.Empty(await other.ClaimEndsAsync(100, TimeSpan.Zero, CancellationToken.None));
    }
}
