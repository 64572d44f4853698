using System.Text;
using SessionLocking.Redis;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Numbers the scripts read from Redis are validated strictly (digits only, at most 16, below 2^53) before anything
/// is taken: a session or lock changed behind the store's back answers <see cref="SessionStoreCorruptException"/>
/// naming what is corrupt, leaves no lock, and is dropped so that the next request starts afresh. Before, Lua's
/// <c>tonumber</c> took <c>1e6</c>, <c>5.5</c>, <c>0x10</c> and <c>-1</c>, and a corrupt fence failed every acquire
/// while read-only loads kept it alive.
/// </summary>
public sealed class RedisCorruptRecordTests : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(30);
    private readonly RedisFixture _redis;
    private readonly string _prefix = "corrupt-" + Guid.NewGuid().ToString("N")[..8];
    private RedisSessionStateStore _store = null!;
    private RespClient _inspect = null!;

    public RedisCorruptRecordTests(RedisFixture redis) => _redis = redis;

    public static TheoryData<string> BadNumbers => new() { "1e6", "5.5", "0x10", "-1", "abc", "", " 7", "12345678901234567" };

    public async Task InitializeAsync()
    {
        _store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = _redis.Configuration, KeyPrefix = _prefix });
        _inspect = await _redis.Server.ConnectAsync();
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _inspect.Dispose();
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public async Task A_corrupt_stored_timeout_is_a_clear_error_takes_no_lock_and_the_next_acquire_starts_afresh(string bad)
    {
        var id = await SeedAsync();
        await _inspect.CommandAsync("HSET", SessionKey(id), "timeout", bad);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Equal("session timeout", error.What);
        Assert.Equal("acquire", error.Operation);
        Assert.Contains("session timeout", error.Message, StringComparison.Ordinal);
        await AssertNothingLeftAndNextAcquireIsFresh(id);
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public async Task A_corrupt_stored_fence_is_a_clear_error_takes_no_lock_and_the_next_acquire_starts_afresh(string bad)
    {
        var id = await SeedAsync();
        await _inspect.CommandAsync("HSET", SessionKey(id), "fence", bad);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Equal("session fence", error.What);
        await AssertNothingLeftAndNextAcquireIsFresh(id);
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public async Task A_read_only_load_of_a_corrupt_session_fails_and_drops_it_instead_of_keeping_it_alive(string bad)
    {
        var id = await SeedAsync();
        await _inspect.CommandAsync("HSET", SessionKey(id), "fence", bad);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetSharedAsync(id, default));

        Assert.Equal("read-only load", error.Operation);
        await AssertNothingLeftAndNextAcquireIsFresh(id);
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public async Task A_corrupt_lock_token_is_a_clear_error_and_the_lock_is_dropped(string bad)
    {
        var id = await SeedAsync();
        var held = await _store.GetExclusiveAsync(id, LockTimeout, false, default);
        await _inspect.CommandAsync("HSET", LockKey(id), "token", bad);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(id, LockTimeout, true, default));

        Assert.Equal("lock token", error.What);
        Assert.Empty(await _inspect.KeysAsync(LockKey(id)));
        var next = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.Found, next.Status); // Only the lock was corrupt: the session's items stay.
        Assert.True(next.LockId.Token > held.LockId.Token);
        Assert.Equal("v", Encoding.UTF8.GetString(next.Data!.Items["k"]));
        Assert.True(await _store.ReleaseAsync(id, next.LockId, default));
    }

    [Theory]
    [MemberData(nameof(BadNumbers))]
    public async Task A_corrupt_lock_time_is_a_clear_error_and_the_lock_is_dropped(string bad)
    {
        var id = SessionIds.Create();
        var held = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        await _inspect.CommandAsync("HSET", LockKey(id), "at", bad);

        var error = await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetSharedAsync(id, default));

        Assert.Equal("lock acquisition time", error.What);
        Assert.Empty(await _inspect.KeysAsync($"{{{_prefix}:{id}}}*"));
        var next = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.NotFound, next.Status);
        Assert.True(next.HasLock);
        Assert.True(next.LockId.Token > held.LockId.Token);
        Assert.True(await _store.ReleaseAsync(id, next.LockId, default));
    }

    [Fact]
    public async Task Keys_of_the_wrong_type_or_shape_are_corrupt_records_too()
    {
        var stringSession = SessionIds.Create();
        await _inspect.CommandAsync("SET", SessionKey(stringSession), "not a hash");
        Assert.Equal("session is not a hash", (await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(stringSession, LockTimeout, true, default))).What);
        await AssertNothingLeftAndNextAcquireIsFresh(stringSession);

        var itemsOnly = SessionIds.Create();
        await _inspect.CommandAsync("HSET", SessionKey(itemsOnly), "i:k", "v");
        Assert.Equal("session timeout missing", (await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(itemsOnly, LockTimeout, true, default))).What);
        await AssertNothingLeftAndNextAcquireIsFresh(itemsOnly);

        var stringLock = SessionIds.Create();
        await _inspect.CommandAsync("SET", LockKey(stringLock), "12345");
        Assert.Equal("lock is not a hash", (await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetExclusiveAsync(stringLock, LockTimeout, true, default))).What);
        await AssertNothingLeftAndNextAcquireIsFresh(stringLock);

        var ownerOnlyLock = SessionIds.Create();
        await _inspect.CommandAsync("HSET", LockKey(ownerOnlyLock), "owner", "0123456789abcdef");
        Assert.Equal("lock has no token", (await Assert.ThrowsAsync<SessionStoreCorruptException>(async () => await _store.GetSharedAsync(ownerOnlyLock, default))).What);
        await AssertNothingLeftAndNextAcquireIsFresh(ownerOnlyLock);
    }

    [Fact]
    public async Task Keep_alive_and_release_never_slide_a_corrupt_timeout()
    {
        var id = await SeedAsync(TimeSpan.FromSeconds(3));
        var held = await _store.GetExclusiveAsync(id, TimeSpan.FromMilliseconds(500), false, default);
        await _inspect.CommandAsync("HSET", SessionKey(id), "timeout", "1e9");
        await _inspect.CommandAsync("PEXPIRE", SessionKey(id), "2000");

        Assert.True(await _store.ReleaseAsync(id, held.LockId, default));
        await _store.KeepAliveAsync(id, default);

        Assert.InRange(await _inspect.IntegerAsync("PTTL", SessionKey(id)), 1, 2000);
    }

    [Fact]
    public void The_strict_number_check_is_one_shared_helper_used_by_every_script_that_reads_a_stored_number()
    {
        foreach (var script in new[] { RedisSessionStateStore.AcquireScript, RedisSessionStateStore.SharedScript, RedisSessionStateStore.ReleaseScript, RedisSessionStateStore.KeepAliveScript })
        {
            Assert.Contains("local function num(v)", script, StringComparison.Ordinal);
            Assert.DoesNotContain("tonumber(redis.call", script, StringComparison.Ordinal);
        }
    }

    private async Task AssertNothingLeftAndNextAcquireIsFresh(string id)
    {
        Assert.Empty(await _inspect.KeysAsync($"{{{_prefix}:{id}}}*")); // no lock, and the corrupt record dropped
        var next = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.Equal(SessionStoreStatus.NotFound, next.Status);
        Assert.True(next.HasLock);
        Assert.True(await _store.WriteAndReleaseAsync(id, next.LockId, RedisStoreTests.Changes(new() { ["fresh"] = "1" }, isNew: true), default));
        var loaded = await _store.GetSharedAsync(id, default);
        Assert.Equal(SessionStoreStatus.Found, loaded.Status);
        Assert.Equal(["fresh"], loaded.Data!.Items.Keys);
    }

    private async Task<string> SeedAsync(TimeSpan? timeout = null)
    {
        var id = SessionIds.Create();
        var created = await _store.GetExclusiveAsync(id, LockTimeout, true, default);
        Assert.True(await _store.WriteAndReleaseAsync(id, created.LockId, RedisStoreTests.Changes(new() { ["k"] = "v" }, timeout, isNew: true), default));
        return id;
    }

    private string SessionKey(string id) => $"{{{_prefix}:{id}}}:session";

    private string LockKey(string id) => $"{{{_prefix}:{id}}}:lock";
}
