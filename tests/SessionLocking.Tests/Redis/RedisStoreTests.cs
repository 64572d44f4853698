using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// What is particular to the Redis store, against a real Redis: its keys and their TTLs, what goes over the wire, key
/// prefixes, script reloading, operation timeouts. The rules every store keeps are in <c>Contract/StoreContractTests</c>,
/// which runs on Redis, Redis Cluster and Garnet too.
/// </summary>
public sealed class RedisStoreTests : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly RedisFixture _redis;
    private readonly string _prefix = "store-" + Guid.NewGuid().ToString("N")[..8];
    private readonly List<RedisSessionStateStore> _stores = new();
    private RedisSessionStateStore _store = null!;
    private RespClient _inspect = null!;

    public RedisStoreTests(RedisFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _store = NewStore();
        _inspect = await _redis.Server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }

        _inspect.Dispose();
    }

    [Fact]
    public async Task A_session_never_written_leaves_no_key_whatever_is_called_on_it()
    {
        var id = SessionIds.Create();

        Assert.Equal(SessionStoreStatus.NotFound, (await _store.GetExclusiveAsync(id, LockTimeout, createIfMissing: false, default)).Status);
        Assert.Equal(SessionStoreStatus.NotFound, (await _store.GetSharedAsync(id, default)).Status);
        await _store.KeepAliveAsync(id, default);
        Assert.Empty(await _inspect.KeysAsync($"{{{_prefix}:{id}}}*"));

        var locked = await _store.GetExclusiveAsync(id, LockTimeout, createIfMissing: true, default);
        Assert.Equal([Key(id, "lock")], await _inspect.KeysAsync($"{{{_prefix}:{id}}}*"));
        Assert.True(await _store.ReleaseAsync(id, locked.LockId, default));
        Assert.Empty(await _inspect.KeysAsync($"{{{_prefix}:{id}}}*")); // Nothing: the next token is above it by the server-time floor.
    }

    [Fact]
    public async Task A_write_back_stores_one_hash_of_fence_timeout_and_exactly_named_items_and_deletes_the_lock()
    {
        var id = SessionIds.Create();
        var created = await _store.GetExclusiveAsync(id, LockTimeout, true, default);

        Assert.True(await _store.WriteAndReleaseAsync(id, created.LockId, Changes(new() { ["Cart"] = "one", ["n"] = "1" }, timeout: TimeSpan.FromMinutes(7), isNew: true), default));

        Assert.Equal(new Dictionary<string, string> { ["Cart"] = "one", ["n"] = "1" }, await Items(id));
        var session = await _inspect.HashAsync(Key(id, "session"));
        Assert.Equal("420000", session["timeout"]);
        Assert.Equal(created.LockId.Token.ToString(System.Globalization.CultureInfo.InvariantCulture), session["fence"]);
        Assert.Equal(["fence", "i:Cart", "i:n", "timeout", "ver", "verf"], session.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(session["fence"], session["verf"]); // the version (cached loads) holds at this fence
        Assert.Equal([Key(id, "session")], await _inspect.KeysAsync($"{{{_prefix}:{id}}}*"));
    }

    [Fact]
    public async Task Only_changed_items_are_sent_and_removed_items_are_deleted()
    {
        var id = SessionIds.Create();
        await Seed(id, new() { ["a"] = "A-value", ["b"] = "B-value", ["Cart"] = "C-value", ["gone"] = "G-value" });
        var held = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        var lines = new ConcurrentQueue<string>();
        using var monitor = await _redis.Server.ConnectAsync();
        await monitor.MonitorAsync(lines.Enqueue);

        var changes = new SessionChanges(
            new Dictionary<string, byte[]> { ["b"] = Bytes("B-new"), ["cart"] = Bytes("C-value") },
            ["gone", "Cart"],
            TimeSpan.FromMinutes(20),
            isNew: false);
        Assert.True(await _store.WriteAndReleaseAsync(id, held.LockId, changes, default));
        await _inspect.CommandAsync("PING");
        await WaitFor(() => lines.Any(l => l.Contains("\"PING\"", StringComparison.OrdinalIgnoreCase)));

        var evalsha = Assert.Single(lines, l => l.Contains("\"evalsha\"", StringComparison.OrdinalIgnoreCase));
        Assert.Contains("\"B-new\"", evalsha, StringComparison.Ordinal);
        Assert.Contains("\"i:gone\"", evalsha, StringComparison.Ordinal);
        Assert.DoesNotContain("A-value", evalsha, StringComparison.Ordinal);
        Assert.DoesNotContain("G-value", evalsha, StringComparison.Ordinal);
        // evalsha, sha, numkeys, 2 keys, token, timeout, channel, publish flag, is-new, n=2, "i:gone", "i:Cart", "i:b", "B-new", "i:cart", "C-value",
        // then the new version: "ver", version, "verf", token (cached loads)
        Assert.Equal(21, Regex.Matches(evalsha, "\"(?:[^\"\\\\]|\\\\.)*\"").Count);
        Assert.Equal(new Dictionary<string, string> { ["a"] = "A-value", ["b"] = "B-new", ["cart"] = "C-value" }, await Items(id));
    }

    [Fact]
    public async Task The_lock_lives_for_the_lock_timeout_and_its_age_is_measured_by_the_server()
    {
        var id = SessionIds.Create();
        await Seed(id, new() { ["k"] = "v" });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var holder = await _store.GetExclusiveAsync(id, TimeSpan.FromMilliseconds(1500), false, default);
        Assert.InRange(await _inspect.IntegerAsync("PTTL", Key(id, "lock")), 1, 1500);

        await Task.Delay(250);
        var waiter = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        var elapsed = clock.Elapsed;
        Assert.Equal(SessionStoreStatus.Locked, waiter.Status);
        Assert.Equal(holder.LockId, waiter.LockId);
        Assert.InRange(waiter.LockAge, TimeSpan.FromMilliseconds(240), elapsed + TimeSpan.FromMilliseconds(50));

        // The crashed holder never releases: its lock expires by its TTL, and then another request takes it.
        SessionStoreResult taken;
        while ((taken = await _store.GetExclusiveAsync(id, LockTimeout, false, default)).Status == SessionStoreStatus.Locked)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the lock did not expire");
            await Task.Delay(20);
        }

        Assert.True(clock.Elapsed >= TimeSpan.FromMilliseconds(1400), $"the lock expired after {clock.Elapsed}, before its TTL");
        Assert.Equal(SessionStoreStatus.Found, taken.Status);
        Assert.False(await _store.WriteAndReleaseAsync(id, holder.LockId, Changes(new() { ["k"] = "late" }), default));
        Assert.True(await _store.ReleaseAsync(id, taken.LockId, default));
        Assert.Equal("v", (await Items(id))["k"]);
    }

    [Fact]
    public async Task The_data_expires_after_the_session_timeout_sliding_on_every_access()
    {
        var id = SessionIds.Create();
        await Seed(id, new() { ["k"] = "v" }, TimeSpan.FromSeconds(3));
        Assert.InRange(await _inspect.IntegerAsync("PTTL", Key(id, "session")), 1, 3000);

        async Task AssertSlides(string what, Func<Task> access)
        {
            await Task.Delay(300);
            var before = await _inspect.IntegerAsync("PTTL", Key(id, "session"));
            await access();
            var after = await _inspect.IntegerAsync("PTTL", Key(id, "session"));
            Assert.True(after > before && after <= 3000, $"{what} did not slide the expiry of the session ({before} -> {after} ms)");
        }

        await AssertSlides("a read-only load", async () => Assert.Equal(SessionStoreStatus.Found, (await _store.GetSharedAsync(id, default)).Status));
        await AssertSlides("a keep-alive", async () => await _store.KeepAliveAsync(id, default));
        SessionStoreResult held = default;
        await AssertSlides("an exclusive get", async () => held = await _store.GetExclusiveAsync(id, TimeSpan.FromMilliseconds(100), false, default));
        await Task.Delay(200); // The lock expired.
        var forRelease = await _store.GetExclusiveAsync(id, TimeSpan.FromSeconds(2), false, default);
        Assert.Equal(SessionStoreStatus.Found, forRelease.Status);
        await AssertSlides("a release", async () => Assert.True(await _store.ReleaseAsync(id, forRelease.LockId, default)));
        var forWrite = await _store.GetExclusiveAsync(id, TimeSpan.FromSeconds(2), false, default);
        await AssertSlides("a write-back", async () =>
            Assert.True(await _store.WriteAndReleaseAsync(id, forWrite.LockId, Changes(new() { ["k"] = "v2" }, TimeSpan.FromSeconds(3)), default)));
        Assert.False(await _store.ReleaseAsync(id, held.LockId, default));

        // Idle past its timeout: gone.
        var last = await _store.GetExclusiveAsync(id, TimeSpan.FromSeconds(1), false, default);
        Assert.True(await _store.WriteAndReleaseAsync(id, last.LockId, Changes(new(), TimeSpan.FromMilliseconds(300)), default));
        Assert.InRange(await _inspect.IntegerAsync("PTTL", Key(id, "session")), 1, 300);
        await Task.Delay(600);
        Assert.Equal(SessionStoreStatus.NotFound, (await _store.GetSharedAsync(id, default)).Status);
        Assert.Empty(await _inspect.KeysAsync($"{{{_prefix}:{id}}}*"));
    }

    [Fact]
    public async Task A_write_back_that_removes_every_item_keeps_the_session_with_its_new_expiry()
    {
        // The write-back sets the new expiry before it writes (the PEXPIRE is also its check that the hash still exists);
        // the hash keeps its timeout and fence, so removing every item leaves it, with that expiry.
        var id = SessionIds.Create();
        await Seed(id, new() { ["a"] = "A-value", ["b"] = "B-value" });
        var held = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        var changes = new SessionChanges(new Dictionary<string, byte[]>(), ["a", "b"], TimeSpan.FromSeconds(5), isNew: false);

        Assert.True(await _store.WriteAndReleaseAsync(id, held.LockId, changes, default));

        Assert.Empty(await Items(id));
        Assert.InRange(await _inspect.IntegerAsync("PTTL", Key(id, "session")), 1, 5000);
        var loaded = await _store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Empty(loaded.Data!.Items);
        Assert.Equal(TimeSpan.FromSeconds(5), loaded.Data.Timeout);
    }

    [Fact]
    public async Task A_locked_session_does_not_expire_under_its_holder()
    {
        var id = SessionIds.Create();
        await Seed(id, new() { ["k"] = "v" }, TimeSpan.FromMilliseconds(300));
        var held = await _store.GetExclusiveAsync(id, TimeSpan.FromSeconds(10), false, default);

        await Task.Delay(500);

        Assert.InRange(await _inspect.IntegerAsync("PTTL", Key(id, "session")), 5000, 10000);
        Assert.True(await _store.WriteAndReleaseAsync(id, held.LockId, Changes(new() { ["k2"] = "v2" }, TimeSpan.FromMilliseconds(300)), default));
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v", ["k2"] = "v2" }, await Items(id));
    }

    [Fact]
    public async Task Key_prefixes_isolate_applications_sharing_one_redis()
    {
        var id = SessionIds.Create();
        var other = NewStore("other-" + Guid.NewGuid().ToString("N")[..8]);
        await Seed(id, new() { ["k"] = "mine" });

        Assert.Equal(SessionStoreStatus.NotFound, (await other.GetSharedAsync(id, default)).Status);
        var otherLock = await other.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.NotFound, otherLock.Status);
        Assert.True(otherLock.HasLock);
        Assert.Equal(SessionStoreStatus.Found, (await _store.GetSharedAsync(id, default)).Status);
        Assert.All(await _inspect.KeysAsync($"*{id}*"), key => Assert.Matches($"^\\{{({_prefix}|other-[0-9a-f]{{8}}):{id}\\}}:(session|lock)$", key));
    }

    [Fact]
    public void Prefixes_that_break_the_hash_tag_and_malformed_ids_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => new RedisSessionKeys("app}x"));
        Assert.Throws<ArgumentException>(() => new RedisSessionKeys("{app"));
        Assert.Throws<ArgumentException>(() => new RedisSessionKeys(""));
        Assert.Throws<ArgumentException>(() => new RedisSessionKeys("a\nb"));
        var keys = new RedisSessionKeys("app");
        Assert.Throws<ArgumentException>(() => keys.For("not-a-session-id"));
        Assert.Throws<ArgumentException>(() => keys.For("ABCDEFGHIJKLMNOPQRSTUVWX"));
        Assert.Throws<ArgumentException>(() => keys.For("abcdefghijklmnopqrstuvw}"));
        var id = SessionIds.Create();
        Assert.Equal([$"{{app:{id}}}:session", $"{{app:{id}}}:lock"], keys.For(id).Select(k => (string)k!));
        Assert.Equal($"{{app:{id}}}:released", keys.Channel(id));
    }

    [Fact]
    public async Task Scripts_are_loaded_again_after_redis_forgets_them()
    {
        var id = SessionIds.Create();
        await Seed(id, new() { ["k"] = "v" });
        await _inspect.CommandAsync("SCRIPT", "FLUSH");

        var loaded = await _store.GetSharedAsync(id, default);

        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Equal(SessionStoreStatus.Found, (await _store.GetSharedAsync(id, default)).Status);
    }

    [Fact]
    public async Task A_call_redis_does_not_answer_in_time_fails_with_a_clear_error()
    {
        var store = NewStore(_prefix, TimeSpan.FromMilliseconds(300));
        var id = SessionIds.Create();
        await store.GetSharedAsync(id, default); // connected
        using var admin = await _redis.Server.ConnectAsync();
        await admin.CommandAsync("CLIENT", "PAUSE", "5000", "ALL");
        try
        {
            var started = DateTime.UtcNow;
            var error = await Assert.ThrowsAsync<SessionStoreUnavailableException>(async () => await store.GetExclusiveAsync(id, LockTimeout, true, default));
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), "the call was not bounded by the operation timeout");
            Assert.Contains("acquire", error.Message, StringComparison.Ordinal);
            Assert.Contains("0.3 s", error.Message, StringComparison.Ordinal);
            Assert.Equal("acquire", error.Operation);
        }
        finally
        {
            await admin.CommandAsync("CLIENT", "UNPAUSE");
        }
    }

    internal static SessionChanges Changes(Dictionary<string, string> set, TimeSpan? timeout = null, bool isNew = false, params string[] removed) =>
        new(set.ToDictionary(p => p.Key, p => Bytes(p.Value)), removed, timeout ?? TimeSpan.FromMinutes(20), isNew);

    private static byte[] Bytes(string value) => Encoding.UTF8.GetBytes(value);

    private string Key(string id, string part) => $"{{{_prefix}:{id}}}:{part}";

    /// <summary>The items of a stored session as Redis holds them: the session hash's "i:" fields, without the prefix.</summary>
    private async Task<Dictionary<string, string>> Items(string id) =>
        (await _inspect.HashAsync(Key(id, "session")))
            .Where(p => p.Key.StartsWith("i:", StringComparison.Ordinal))
            .ToDictionary(p => p.Key[2..], p => p.Value, StringComparer.Ordinal);

    private async Task Seed(string id, Dictionary<string, string> items, TimeSpan? timeout = null)
    {
        var created = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await _store.WriteAndReleaseAsync(id, created.LockId, Changes(items, timeout, isNew: true), default));
    }

    private RedisSessionStateStore NewStore(string? prefix = null, TimeSpan? operationTimeout = null)
    {
        var store = new RedisSessionStateStore(new RedisSessionStoreOptions
        {
            Configuration = _redis.Configuration,
            KeyPrefix = prefix ?? _prefix,
            OperationTimeout = operationTimeout ?? TimeSpan.FromSeconds(5),
        });
        _stores.Add(store);
        return store;
    }

    private static async Task WaitFor(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting");
            await Task.Delay(10);
        }
    }
}
