using System.Text;
using SessionLocking.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Cached loads (<see cref="RedisSessionStoreOptions.SessionCacheSize"/>, on by default): a load of a session that has
/// not changed since this server loaded or wrote it carries no items, counted in bytes by Redis itself (INFO stats,
/// on a redis-server of this class alone); a write on another server, or by a writer that does not know versions, is
/// never hidden by a kept copy.
/// </summary>
public sealed class RedisCachedLoadTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private const int BlobCount = 16;
    private const int BlobSize = 64 * 1024;
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "cached-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<RedisSessionStateStore> _stores = new();
    private RespClient _inspect = null!;

    public async Task InitializeAsync() => _inspect = await redis.Server.ConnectAsync();

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        _inspect.Dispose();
    }

    [Fact]
    public async Task An_unchanged_1_MiB_session_is_read_in_under_1_KiB_and_a_small_change_costs_under_2_KiB_both_ways()
    {
        var store = NewStore();
        var id = SessionIds.Create();
        var blobs = Enumerable.Range(0, BlobCount).ToDictionary(i => "blob" + i, i => Enumerable.Repeat((byte)('a' + i), BlobSize).ToArray());
        blobs["counter"] = Bytes("0");
        var created = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, new SessionChanges(blobs, [], TimeSpan.FromMinutes(20), isNew: true), default));
        var overhead = await InfoOverheadAsync();

        // Read-only requests: one shared load each.
        const int Requests = 20;
        var (in0, out0) = await _inspect.NetBytesAsync();
        for (var i = 0; i < Requests; i++)
        {
            var loaded = await store.GetSharedAsync(id, default);
            Assert.Equal(SessionStoreStatus.Found, loaded.Status);
            Assert.Equal(BlobCount + 1, loaded.Data!.Items.Count);
            Assert.Equal(blobs["blob3"], loaded.Data.Items["blob3"]);
        }

        var (in1, out1) = await _inspect.NetBytesAsync();
        var readFrom = (out1 - out0 - overhead.Out) / (double)Requests;
        var readTo = (in1 - in0 - overhead.In) / (double)Requests;
        output.WriteLine($"read-only, unchanged 1 MiB session: {readFrom:0} B from Redis, {readTo:0} B to Redis per request");
        Assert.True(readFrom <= 1024, $"an unchanged read-only load took {readFrom:0} B from Redis (at most 1 KiB)");

        // Required requests with one small change: acquire, then write-back of the counter.
        (in0, out0) = await _inspect.NetBytesAsync();
        for (var i = 1; i <= Requests; i++)
        {
            var held = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default);
            Assert.Equal(SessionStoreStatus.Found, held.Status);
            Assert.Equal((i - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(held.Data!.Items["counter"]));
            Assert.Equal(BlobCount + 1, held.Data.Items.Count);
            var change = new SessionChanges(new Dictionary<string, byte[]> { ["counter"] = Bytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)) }, [], TimeSpan.FromMinutes(20), isNew: false);
            Assert.True(await store.WriteAndReleaseAsync(id, held.LockId, change, default));
        }

        (in1, out1) = await _inspect.NetBytesAsync();
        var writeFrom = (out1 - out0 - overhead.Out) / (double)Requests;
        var writeTo = (in1 - in0 - overhead.In) / (double)Requests;
        output.WriteLine($"Required, one small change: {writeFrom:0} B from Redis + {writeTo:0} B to Redis = {writeFrom + writeTo:0} B per request");
        Assert.True(writeFrom + writeTo <= 2048, $"a Required request with one small change moved {writeFrom:0} B from and {writeTo:0} B to Redis (at most 2 KiB both ways)");
        Assert.Equal(2 * Requests, store.CachedLoads);
    }

    [Fact]
    public async Task A_write_on_server_B_is_read_by_server_A_on_its_next_load_shared_or_exclusive()
    {
        var (a, b) = (NewStore(), NewStore());
        var id = SessionIds.Create();
        await WriteAsync(b, id, "v", "one", isNew: true);

        Assert.Equal("one", await ReadSharedAsync(a, id));
        Assert.Equal("one", await ReadSharedAsync(a, id));
        Assert.Equal(1, a.CachedLoads);

        // B writes: A's next load, read-only or exclusive, has B's write.
        await WriteAsync(b, id, "v", "two");
        Assert.Equal("two", await ReadSharedAsync(a, id));
        await WriteAsync(b, id, "v", "three");
        var exclusive = await a.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.Equal("three", Encoding.UTF8.GetString(exclusive.Data!.Items["v"]));
        Assert.True(await a.ReleaseAsync(id, exclusive.LockId, default));

        // B takes the lock and writes nothing (a Required request that changed nothing): A's copy is still the stored
        // session, and A loads it without items.
        var loadsBefore = a.CachedLoads;
        var idle = await b.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(await b.ReleaseAsync(id, idle.LockId, default));
        Assert.Equal("three", await ReadSharedAsync(a, id));
        Assert.Equal(loadsBefore + 1, a.CachedLoads);

        // A writes on top of its cached load, B reads A's write, and both go on alternating.
        for (var i = 0; i < 10; i++)
        {
            var (writer, reader) = i % 2 == 0 ? (a, b) : (b, a);
            await WriteAsync(writer, id, "v", "round-" + i);
            Assert.Equal("round-" + i, await ReadSharedAsync(reader, id));
            Assert.Equal("round-" + i, await ReadSharedAsync(writer, id));
        }

        // Abandon on B: A finds no session.
        var abandon = await b.GetExclusiveAsync(id, LockTimeout, false, default);
        Assert.True(await b.RemoveAsync(id, abandon.LockId, default));
        Assert.Equal(SessionStoreStatus.NotFound, (await a.GetSharedAsync(id, default)).Status);
    }

    [Fact]
    public async Task A_writer_that_does_not_know_versions_is_never_hidden_by_a_kept_copy()
    {
        // What an older version of the store does during a rolling upgrade: its acquire moves the fence, its write-back
        // sets the items, and neither touches the version fields.
        var a = NewStore();
        var id = SessionIds.Create();
        await WriteAsync(a, id, "v", "ours", isNew: true);
        Assert.Equal("ours", await ReadSharedAsync(a, id));
        var key = $"{{{_prefix}:{id}}}:session";
        var fence = long.Parse((await _inspect.HashAsync(key))["fence"], System.Globalization.CultureInfo.InvariantCulture);

        await _inspect.CommandAsync("HSET", key, "fence", (fence + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), "i:v", "theirs");
        Assert.Equal("theirs", await ReadSharedAsync(a, id));

        // Our next write-back versions the session again, and kept copies count once more.
        await WriteAsync(a, id, "v", "ours again");
        var before = a.CachedLoads;
        Assert.Equal("ours again", await ReadSharedAsync(a, id));
        Assert.Equal(before + 1, a.CachedLoads);
    }

    [Fact]
    public async Task A_copy_over_the_size_limit_is_not_kept_and_the_least_recently_used_goes_first()
    {
        var store = NewStore(cacheSize: 3 * (RedisSessionCache.Size(new Dictionary<string, byte[]> { ["v"] = new byte[1000] }) + 20));
        var ids = Enumerable.Range(0, 4).Select(_ => SessionIds.Create()).ToArray();
        foreach (var id in ids)
        {
            await WriteAsync(store, id, "v", new string('x', 1000), isNew: true);
        }

        Assert.Equal(3, store.Cache!.Count);
        Assert.Null(store.Cache.Get(ids[0]));
        Assert.True(store.Cache.Bytes <= store.Cache.Limit);

        var big = SessionIds.Create();
        await WriteAsync(store, big, "v", new string('y', 10_000), isNew: true);
        Assert.Null(store.Cache.Get(big));
        Assert.Equal(new string('y', 10_000), await ReadSharedAsync(store, big));
    }

    [Fact]
    public async Task With_the_cache_off_every_load_carries_the_items_and_writes_still_version_the_session()
    {
        var off = NewStore(cacheSize: 0);
        var on = NewStore();
        var id = SessionIds.Create();
        await WriteAsync(off, id, "v", "one", isNew: true);
        Assert.Null(off.Cache);
        Assert.Equal("one", await ReadSharedAsync(off, id));
        Assert.Equal("one", await ReadSharedAsync(on, id));
        await WriteAsync(off, id, "v", "two");
        Assert.Equal("two", await ReadSharedAsync(on, id));
        Assert.Equal(0, on.CachedLoads);
    }

    private async Task<(long In, long Out)> InfoOverheadAsync()
    {
        var (in0, out0) = await _inspect.NetBytesAsync();
        var (in1, out1) = await _inspect.NetBytesAsync();
        return (in1 - in0, out1 - out0);
    }

    private static async Task WriteAsync(RedisSessionStateStore store, string id, string name, string value, bool isNew = false)
    {
        var held = await store.GetExclusiveAsync(id, LockTimeout, createIfMissing: isNew, default);
        Assert.True(held.HasLock, $"no lock: {held.Status}");
        var changes = new SessionChanges(new Dictionary<string, byte[]> { [name] = Bytes(value) }, [], TimeSpan.FromMinutes(20), isNew);
        Assert.True(await store.WriteAndReleaseAsync(id, held.LockId, changes, default));
    }

    private static async Task<string> ReadSharedAsync(RedisSessionStateStore store, string id)
    {
        var loaded = await store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        return Encoding.UTF8.GetString(loaded.Data!.Items["v"]);
    }

    private static byte[] Bytes(string value) => Encoding.UTF8.GetBytes(value);

    private RedisSessionStateStore NewStore(long? cacheSize = null)
    {
        var options = new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix };
        if (cacheSize is { } size)
        {
            options.SessionCacheSize = size;
        }

        var store = new RedisSessionStateStore(options);
        _stores.Add(store);
        return store;
    }
}
