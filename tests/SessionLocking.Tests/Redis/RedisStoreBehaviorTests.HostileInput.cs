using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// The hostile-input scenario of the behaviour suite seen from inside Redis: no lock key left, the session hash
/// unchanged byte for byte, corruption written behind the store's back, every key (and, where the server can
/// MONITOR, every command) in a valid session's hash tag; and a corrupt session record, which only a Redis store reads.
/// </summary>
public abstract partial class RedisStoreBehaviorTests<TDeployment>
{
    /// <summary>Whether the servers can MONITOR (redis-server can; Garnet cannot), to check every command sent.</summary>
    protected virtual bool CanMonitor => true;

    protected override async Task<ForgedCookieWatch> WatchForgedCookiesAsync()
    {
        _operationTimeout = TimeSpan.FromSeconds(10); // 10,000 requests, 8 at a time, with MONITOR on
        return await RedisForgedCookieWatch.StartAsync(deployment, Prefix, prefixStem, CanMonitor);
    }

    protected override async Task AssertNoLockLeftAsync(TestHost host, string sessionId)
    {
        Assert.Empty(await RedisKeysOf.KeysAsync(deployment.Servers, "{" + Prefix + ":*}:lock")); // no key, not one waiting for its TTL
        await base.AssertNoLockLeftAsync(host, sessionId);
    }

    protected override async Task<IReadOnlyDictionary<string, string>> StoredItemsAsync(TestHost host, string sessionId)
    {
        using var inspect = await RedisKeysOf.ConnectToOwnerAsync(deployment.Servers, HashTag(sessionId));
        return await FaultKit.ItemsAsync(inspect, Prefix, sessionId);
    }

    protected override async Task CorruptItemAsync(TestHost host, string sessionId, string key)
    {
        // Written behind the application's back: bytes that are no serialized value. A write that does not go through
        // the store's scripts drops the session's version (docs/redis-protocol.md, "Cached loads"), else a server that
        // keeps the session's last version would go on using it.
        using var inspect = await RedisKeysOf.ConnectToOwnerAsync(deployment.Servers, HashTag(sessionId));
        Assert.Equal(0L, await inspect.IntegerAsync("HSET", FaultKit.SessionKey(Prefix, sessionId), "i:" + key, "\u0001\u0000garbage"));
        await inspect.IntegerAsync("HDEL", FaultKit.SessionKey(Prefix, sessionId), "ver");
    }

    /// <summary>
    /// A session timeout corrupted in Redis fails one request with the store's corrupt-record error (503), leaves no
    /// lock, and the next request starts afresh, on every deployment (Garnet's error answers carry an "ERR " prefix
    /// that the store looks past).
    /// </summary>
    protected async Task CorruptedSessionTimeoutFailsOnceAndTheNextRequestStartsAfreshAsync()
    {
        await using var host = await StartAsync(o =>
        {
            o.ExecutionTimeout = TimeSpan.FromSeconds(30);
            o.LockWaitTimeout = TimeSpan.FromSeconds(5);
        });
        var failures = 0L;
        using var listener = host.ListenToCounter("sessionlocking.store.failures", n => Interlocked.Add(ref failures, n));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=good&value=fine")).Dispose();
        var corruptId = client.SessionId!;
        using var inspect = await RedisKeysOf.ConnectToOwnerAsync(deployment.Servers, HashTag(corruptId));
        Assert.Equal(0L, await inspect.IntegerAsync("HSET", FaultKit.SessionKey(Prefix, corruptId), "timeout", "twenty minutes"));

        var required = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=1");
        var again = await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=a&value=2");

        Output.WriteLine($"corrupt timeout: Required {required}, Required again {again}");
        Assert.Equal(503, required.Status); // an error answer of the store, never an empty session under the old record
        Assert.Contains("corrupt", required.Body, StringComparison.Ordinal);
        Assert.True(TestLog.Has("RedisSessionCorrupt"));
        Assert.Equal(1L, Interlocked.Read(ref failures));
        Assert.Equal(200, again.Status); // the corrupt record was dropped: a fresh session
        Assert.True(again.Elapsed < TimeSpan.FromSeconds(3), $"the second request waited {again.Elapsed}");
        Assert.NotEqual(corruptId, client.SessionId);
        Assert.Null(await client.GetJsonAsync<string>("/get?key=good"));
        Assert.Empty(await inspect.KeysAsync(FaultKit.SessionKey(Prefix, corruptId)));
        Assert.Empty(await RedisKeysOf.KeysAsync(deployment.Servers, "{" + Prefix + ":*}:lock"));
    }

    private string HashTag(string sessionId) => "{" + Prefix + ":" + sessionId + "}";
}
