using System.Text;
using Microsoft.Extensions.Logging;
using SessionLocking.Redis;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// One key per stored session (items and metadata in one hash), so eviction and expiry take a session whole; the
/// lock is a key of its own whose loss fencing covers; a session that stores nothing leaves no key at all.
/// </summary>
public sealed class RedisSessionLayoutTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly string _prefix = "layout-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Under_maxmemory_with_volatile_lru_sessions_are_evicted_whole_never_split()
    {
        await using var server = await RedisServer.StartAsync();
        using var inspect = await server.ConnectAsync();
        var baseline = ParseInfo(await inspect.StringAsync("INFO", "memory") ?? "", "used_memory");
        await inspect.CommandAsync("CONFIG", "SET", "maxmemory", (baseline + (3L << 20)).ToString());
        await inspect.CommandAsync("CONFIG", "SET", "maxmemory-policy", "volatile-lru");
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = server.Configuration, KeyPrefix = _prefix });

        // About 3,000 sessions of three 600-byte items: several times what fits.
        const int Sessions = 3000;
        var ids = Enumerable.Range(0, Sessions).Select(_ => SessionIds.Create()).ToArray();
        var written = 0;
        var refused = 0;
        await Parallel.ForEachAsync(ids, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (id, _) =>
        {
            try
            {
                var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
                if (await store.WriteAndReleaseAsync(id, created.LockId, RedisStoreTests.Changes(OldItems(id), isNew: true), default))
                {
                    Interlocked.Increment(ref written);
                }
            }
            catch (SessionStoreUnavailableException)
            {
                Interlocked.Increment(ref refused); // OOM when nothing could be evicted at that moment
            }
        });
        // No more evictions while the test reads (Redis also evicts before read commands while over the limit).
        await inspect.CommandAsync("CONFIG", "SET", "maxmemory", "0");
        var evicted = ParseInfo(await inspect.StringAsync("INFO", "stats") ?? "", "evicted_keys");
        var keys = await FaultKit.ScanAllKeysAsync(server);
        output.WriteLine($"{written} sessions written, {refused} refused, {evicted} keys evicted, {keys.Count} keys left");
        Assert.True(evicted > 500, $"only {evicted} keys were evicted: the test did not put Redis under memory pressure");
        Assert.True(written > Sessions * 0.9, $"only {written} of {Sessions} sessions were written");

        // Every key left is a whole session: its metadata and exactly its items.
        Assert.All(keys, key => Assert.Matches("^\\{" + _prefix + ":[a-z0-5]{24}\\}:session$", key));
        foreach (var key in keys)
        {
            var hash = await inspect.HashAsync(key);
            var id = key[(key.IndexOf(':') + 1)..key.IndexOf('}')];
            Assert.True(hash.ContainsKey("timeout") && hash.ContainsKey("fence"), $"{key} has items without metadata");
            Assert.Equal(OldItems(id), hash.Where(p => p.Key.StartsWith("i:", StringComparison.Ordinal)).ToDictionary(p => p.Key[2..], p => p.Value));
        }

        // Every session is either whole or new; a new one never shows the previous user's items.
        int found = 0, gone = 0;
        foreach (var id in ids)
        {
            var acquired = await store.GetExclusiveAsync(id, LockTimeout, true, default);
            Assert.True(acquired.HasLock);
            if (acquired.Status == SessionStoreStatus.Found)
            {
                found++;
                Assert.Equal(OldItems(id), acquired.Data!.Items.ToDictionary(p => p.Key, p => Encoding.UTF8.GetString(p.Value)));
                Assert.True(await store.ReleaseAsync(id, acquired.LockId, default));
                continue;
            }

            gone++;
            Assert.Equal(SessionStoreStatus.NotFound, acquired.Status);
            Assert.True(await store.WriteAndReleaseAsync(id, acquired.LockId, RedisStoreTests.Changes(new() { ["new"] = "user" }, isNew: true), default));
            var reloaded = await store.GetSharedAsync(id, default);
            Assert.Equal(["new"], reloaded.Data!.Items.Keys);
        }

        output.WriteLine($"afterwards: {found} whole, {gone} gone (and started afresh)");
        Assert.True(found > 0 && gone > 0, $"{found} found, {gone} gone");
    }

    [Fact]
    public async Task A_lock_lost_while_held_lets_a_new_holder_in_with_a_higher_token_and_the_old_holder_cannot_write()
    {
        await using var store = NewStore();
        using var inspect = await redis.Server.ConnectAsync();
        var id = SessionIds.Create();
        var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, RedisStoreTests.Changes(new() { ["k"] = "v1" }, isNew: true), default));
        var old = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.Equal(1L, await inspect.IntegerAsync("DEL", FaultKit.LockKey(_prefix, id))); // evicted, or expired, while held
        var newer = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        Assert.Equal(SessionStoreStatus.Found, newer.Status);
        Assert.True(newer.LockId.Token > old.LockId.Token, $"new token {newer.LockId.Token} is not above the old {old.LockId.Token}");
        Assert.False(await store.WriteAndReleaseAsync(id, old.LockId, RedisStoreTests.Changes(new() { ["k"] = "stale" }), default));
        Assert.False(await store.ReleaseAsync(id, old.LockId, default));
        Assert.False(await store.RemoveAsync(id, old.LockId, default));
        Assert.True(await store.WriteAndReleaseAsync(id, newer.LockId, RedisStoreTests.Changes(new() { ["k"] = "v2" }), default));
        Assert.Equal("v2", (await FaultKit.ItemsAsync(inspect, _prefix, id))["k"]);

        // The same for a session never stored: no key keeps its last token, the server-time floor does.
        var fresh = SessionIds.Create();
        var first = await store.GetExclusiveAsync(fresh, LockTimeout, true, default);
        await inspect.CommandAsync("DEL", FaultKit.LockKey(_prefix, fresh));
        var second = await store.GetExclusiveAsync(fresh, LockTimeout, true, default);
        Assert.True(second.LockId.Token > first.LockId.Token);
        Assert.False(await store.WriteAndReleaseAsync(fresh, first.LockId, RedisStoreTests.Changes(new() { ["k"] = "stale" }, isNew: true), default));
        Assert.True(await store.ReleaseAsync(fresh, second.LockId, default));
        Assert.Empty(await inspect.KeysAsync($"{{{_prefix}:{fresh}}}*"));
    }

    [Fact]
    public async Task A_session_evicted_under_its_holder_is_not_written_back_in_part()
    {
        await using var store = NewStore();
        using var inspect = await redis.Server.ConnectAsync();
        var id = SessionIds.Create();
        var created = await store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, RedisStoreTests.Changes(new() { ["a"] = "1", ["b"] = "2" }, isNew: true), default));
        var held = await store.GetExclusiveAsync(id, LockTimeout, false, default);

        await inspect.CommandAsync("DEL", FaultKit.SessionKey(_prefix, id)); // evicted while held

        Assert.False(await store.WriteAndReleaseAsync(id, held.LockId, RedisStoreTests.Changes(new() { ["b"] = "3" }), default));
        Assert.Empty(await inspect.KeysAsync($"{{{_prefix}:{id}}}*")); // no session with only "b", and the lock released
    }

    [Fact]
    public async Task Anonymous_requests_that_store_nothing_leave_no_key_in_redis()
    {
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix);
        const int N = 40;
        var issued = 0;
        for (var i = 0; i < N; i++)
        {
            foreach (var path in new[] { "/get-required?key=x", "/get?key=x" })
            {
                using var client = host.CreateClient(); // no cookie: a new visitor each time
                using var response = await client.GetAsync(path);
                Assert.Equal(200, (int)response.StatusCode);
                issued += client.SessionId is null ? 0 : 1;
            }
        }

        // The same visitor again, now with the cookie it was given, still storing nothing.
        using (var returning = host.CreateClient())
        {
            for (var i = 0; i < 5; i++)
            {
                (await returning.GetAsync("/get-required?key=x")).Dispose();
            }
        }

        var keys = (await FaultKit.ScanAllKeysAsync(redis.Server)).Where(k => k.StartsWith("{" + _prefix + ":", StringComparison.Ordinal)).ToArray();
        output.WriteLine($"{2 * N} anonymous requests ({issued} got a cookie): {keys.Length} keys left");
        Assert.Empty(keys);
    }

    [Fact]
    public async Task The_store_warns_once_when_redis_may_evict_locks()
    {
        var events = new TestLog.CollectingProvider();
        using var loggerFactory = LoggerFactory.Create(b => b.AddProvider(events).SetMinimumLevel(LogLevel.Debug));
        int Warnings() => events.Events.Count(e => e.Id.Name == "RedisEvictionPolicyMayEvictLocks");

        // The default policy, noeviction: nothing to say.
        await using (var quiet = NewStore(loggerFactory))
        {
            await quiet.GetSharedAsync(SessionIds.Create(), default);
            await Task.Delay(300); // the check runs in the background
            Assert.Equal(0, Warnings());
        }

        await using (var lru = await RedisServer.StartAsync(extraArgs: ["--maxmemory-policy", "allkeys-lru"]))
        await using (var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = lru.Configuration, KeyPrefix = _prefix }, loggerFactory))
        {
            await store.GetSharedAsync(SessionIds.Create(), default);
            await store.GetSharedAsync(SessionIds.Create(), default);
            await FaultKit.Until(() => Warnings() > 0, TimeSpan.FromSeconds(5), "the eviction-policy warning");
            await Task.Delay(200);
            Assert.Equal(1, Warnings());
            Assert.Contains("allkeys-lru", events.Events.First(e => e.Id.Name == "RedisEvictionPolicyMayEvictLocks").Message, StringComparison.Ordinal);
        }

        // Without admin mode, with CONFIG renamed away, and with neither INFO nor CONFIG: RedisEvictionPolicyCheckTests.
    }

    private static Dictionary<string, string> OldItems(string id) => new()
    {
        ["a"] = id + new string('a', 600),
        ["b"] = id + new string('b', 600),
        ["c"] = id + new string('c', 600),
    };

    private static long ParseInfo(string info, string field)
    {
        var line = info.Split('\n').First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    private RedisSessionStateStore NewStore(ILoggerFactory? loggerFactory = null) =>
        new(new RedisSessionStoreOptions { Configuration = redis.Configuration, KeyPrefix = _prefix }, loggerFactory);
}
