using SessionLocking.Redis;

namespace SessionLocking.Tests.Unit;

/// <summary>The bounded, least-recently-used keeping of <see cref="RedisSessionCache"/> (cached loads of the Redis store).</summary>
public sealed class RedisSessionCacheTests
{
    private static readonly Dictionary<string, byte[]> Items = new() { ["v"] = new byte[100] };
    private static readonly long EntrySize = RedisSessionCache.Size(Items);

    [Fact]
    public void A_read_makes_an_entry_the_most_recently_used_and_the_least_recently_used_goes_first()
    {
        var cache = new RedisSessionCache(3 * EntrySize);
        cache.Put("a", Entry("a"));
        cache.Put("b", Entry("b"));
        cache.Put("c", Entry("c"));
        Assert.NotNull(cache.Get("a")); // a is now the most recently used; b the least

        cache.Put("d", Entry("d"));

        Assert.Null(cache.Get("b"));
        Assert.NotNull(cache.Get("a"));
        Assert.NotNull(cache.Get("c"));
        Assert.NotNull(cache.Get("d"));
        Assert.Equal(3 * EntrySize, cache.Bytes);
    }

    [Fact]
    public void Replacing_an_entry_counts_its_bytes_once_and_removing_frees_them()
    {
        var cache = new RedisSessionCache(10 * EntrySize);
        cache.Put("a", Entry("a", "1"));
        cache.Put("a", Entry("a", "2"));
        Assert.Equal(EntrySize, cache.Bytes);
        Assert.Equal("2", cache.Get("a")!.Version);

        cache.Remove("a");
        Assert.Equal(0, cache.Bytes);
        Assert.Equal(0, cache.Count);
    }

    [Fact]
    public void An_entry_larger_than_the_limit_is_not_kept_and_drops_the_older_copy()
    {
        var cache = new RedisSessionCache(EntrySize - 1);
        cache.Put("a", Entry("a"));
        Assert.Null(cache.Get("a"));
        Assert.Equal(0, cache.Bytes);
    }

    private static RedisCachedSession Entry(string id, string version = "v1") => new(id, version, Items, 0, EntrySize);
}
