using System.Globalization;
using System.Text;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// A write-back of more items than one <c>HSET</c> takes (the script sets them in chunks of arguments, the first chunk
/// together with the session's timeout and fence; removed items in chunks of their own): every item arrives, every
/// removed one goes, and the hash keeps an expiry.
/// </summary>
public sealed class RedisWriteBackChunkTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "chunks-" + Guid.NewGuid().ToString("N")[..8];

    [Theory]
    [InlineData(1)]
    [InlineData(498)] // with 'ver' and 'verf', the pairs fill the first HSET exactly (998 arguments)
    [InlineData(499)] // one pair over: the version pair goes in a second HSET
    [InlineData(1_500)]
    public async Task Every_item_of_a_large_write_back_arrives_and_removed_ones_go(int count)
    {
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix, SessionCacheSize = 0 });
        var id = SessionIds.Create();
        var items = Enumerable.Range(0, count).ToDictionary(i => "item" + i, i => Encoding.UTF8.GetBytes("v" + i));
        var created = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, new SessionChanges(items, [], TimeSpan.FromMinutes(20), isNew: true), default));
        Assert.Equal(items, (await store.GetSharedAsync(id, default)).Data!.Items.ToDictionary(p => p.Key, p => p.Value));
        await AssertExpiresAsync(count);

        // Half removed, the rest changed: removals (in their own chunks) and sets in one write-back.
        var removed = items.Keys.Where((_, i) => i % 2 == 0).ToArray();
        var changed = items.Keys.Except(removed).ToDictionary(k => k, k => Encoding.UTF8.GetBytes("w" + k));
        var held = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.True(await store.WriteAndReleaseAsync(id, held.LockId, new SessionChanges(changed, removed, TimeSpan.FromMinutes(20), isNew: false), default));
        Assert.Equal(changed, (await store.GetSharedAsync(id, default)).Data!.Items.ToDictionary(p => p.Key, p => p.Value));
        await AssertExpiresAsync(changed.Count);

        // Everything removed: the hash keeps its timeout and fence, so it stays, with its expiry.
        held = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
        Assert.True(await store.WriteAndReleaseAsync(id, held.LockId, new SessionChanges(new Dictionary<string, byte[]>(), changed.Keys.ToArray(), TimeSpan.FromMinutes(20), isNew: false), default));
        Assert.Empty((await store.GetSharedAsync(id, default)).Data!.Items);
        await AssertExpiresAsync(0);
    }

    /// <summary>The session's hash: <paramref name="items"/> items, timeout and fence as a write-back stores them, and an expiry.</summary>
    private async Task AssertExpiresAsync(int items)
    {
        using var inspect = await redis.Server.ConnectAsync();
        var key = Assert.Single(await inspect.KeysAsync("*" + _prefix + "*"));
        var hash = await inspect.HashAsync(key);
        Assert.Equal(items, hash.Keys.Count(k => k.StartsWith("i:", StringComparison.Ordinal)));
        Assert.Equal("1200000", hash["timeout"]);
        Assert.Equal(hash["fence"], hash["verf"]);
        var ttl = await inspect.IntegerAsync("PTTL", key);
        Assert.True(ttl > 1_000_000, "PTTL " + ttl.ToString(CultureInfo.InvariantCulture));
    }
}
