using System.Diagnostics;
using System.Text;
using SessionLocking.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Failover;

/// <summary>
/// Cached loads across a promotion that lost the last write: the server that made that write keeps it (with its
/// version), the promoted replica never had it. Its next load must give what the promoted replica holds, and a write
/// made there afterwards by another server must be read too: versions never repeat for other contents.
/// </summary>
[Collection(FailoverCollection.Name)]
public sealed class RedisCachedLoadFailoverTests(ITestOutputHelper output)
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "cachedfo-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task After_a_promotion_that_lost_the_last_write_the_writer_reads_what_the_new_primary_holds_never_its_kept_copy()
    {
        await using var cluster = await SentinelCluster.StartAsync();
        var (oldPrimary, replica) = (cluster.Nodes[0], cluster.Nodes[1]);

        // Server A: one cache, first on the old primary, then (its connection moved) on the promoted replica.
        var cacheOfA = new RedisSessionCache(RedisSessionStoreOptions.DefaultSessionCacheSize);
        await using var aOnOld = NewStore(oldPrimary.EndPoint, cacheOfA);
        var id = SessionIds.Create();
        await WriteAsync(aOnOld, id, "replicated", isNew: true);
        await WriteAsync(aOnOld, id, "replicated-2");
        await oldPrimary.UntilReplicatedToAsync(replica);
        Assert.Equal("replicated-2", await ReadAsync(aOnOld, id));

        // The replica stops receiving; A writes on the old primary (it keeps that write as its copy), which then dies.
        await replica.CommandAsync("REPLICAOF", "NO", "ONE");
        await WriteAsync(aOnOld, id, "lost");
        Assert.Equal("lost", await ReadAsync(aOnOld, id));
        var lostVersion = cacheOfA.Get(id)!.Version;
        oldPrimary.Kill();

        await using var aOnNew = NewStore(replica.EndPoint, cacheOfA);
        var stored = await replica.CommandAsync("HGET", $"{{{_prefix}:{id}}}:session", "ver");
        output.WriteLine($"A keeps version {lostVersion}; the promoted replica holds {stored}");
        Assert.NotEqual(lostVersion, (string?)stored);

        // A's next loads, read-only and exclusive: what the promoted replica holds, not A's copy of the lost write.
        Assert.Equal("replicated-2", await ReadAsync(aOnNew, id));
        var exclusive = await aOnNew.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.Equal("replicated-2", Encoding.UTF8.GetString(exclusive.Data!.Items["v"]));
        Assert.True(await aOnNew.ReleaseAsync(id, exclusive.LockId, default));

        // Server B (its own cache) writes on the new primary; A reads B's write on its next load, and so on.
        await using var b = NewStore(replica.EndPoint, new RedisSessionCache(RedisSessionStoreOptions.DefaultSessionCacheSize));
        await WriteAsync(b, id, "after-failover");
        Assert.Equal("after-failover", await ReadAsync(aOnNew, id));
        await WriteAsync(aOnNew, id, "A-again");
        Assert.Equal("A-again", await ReadAsync(b, id));
        Assert.True(aOnNew.CachedLoads + aOnOld.CachedLoads > 0, "no load was answered from A's copy at all: the test would prove nothing");
    }

    private RedisSessionStateStore NewStore(string configuration, RedisSessionCache cache) =>
        new(new RedisSessionStoreOptions
        {
            Configuration = configuration,
            KeyPrefix = _prefix,
            OperationTimeout = TimeSpan.FromSeconds(2),
            ConnectTimeout = TimeSpan.FromSeconds(2),
        })
        {
            Cache = cache,
        };

    private static async Task WriteAsync(RedisSessionStateStore store, string id, string value, bool isNew = false)
    {
        var held = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: isNew, default);
        Assert.True(held.HasLock, $"no lock: {held.Status}");
        var changes = new SessionChanges(new Dictionary<string, byte[]> { ["v"] = Encoding.UTF8.GetBytes(value) }, [], TimeSpan.FromMinutes(20), isNew);
        Assert.True(await store.WriteAndReleaseAsync(id, held.LockId, changes, default));
    }

    private static async Task<string> ReadAsync(RedisSessionStateStore store, string id)
    {
        var loaded = await store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        return Encoding.UTF8.GetString(loaded.Data!.Items["v"]);
    }
}
