using System.Collections.Concurrent;
using System.Text;
using System.Text.RegularExpressions;
using SessionLocking.Redis;
using SessionLocking.Redis.Scripting;
using LuaScript = SessionLocking.Redis.Scripting.LuaScript;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Without an OnSessionEnd handler the request scripts get only KEYS[1..2] and no Session_End code of theirs does
/// anything, so the scripts Redis runs then are composed without the ends helpers (Lua builds a closure for each
/// <c>local function</c> on every call); with a handler the tracking ones run (docs/redis-protocol.md, "Session ends").
/// The scripts run are read off MONITOR by their SHA1.
/// </summary>
public sealed partial class RedisEndsOffScriptTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private static readonly string[] EndsHelpers = ["now_ms", "track_end", "end_session", "slid_untracked", "end_if_due"];

    private static readonly string[] RequestOperations = ["acquire", "force-release", "keep-alive", "read-only load", "release", "remove", "write-back"];

    [Fact]
    public async Task Without_a_handler_the_scripts_Redis_runs_build_none_of_the_ends_helpers()
    {
        var ran = await ScriptsRunAsync(tracked: false);

        Assert.Equal(RequestOperations, ran.Select(s => s.Operation).Distinct().Order(StringComparer.Ordinal));
        var built = ran.Distinct()
            .SelectMany(s => UnusedHelpers.Defined(s.Operation, s.Text).Intersect(EndsHelpers).Select(h => s.Operation + ": " + h))
            .ToArray();
        Assert.True(built.Length == 0, "ends helpers built without a handler: " + string.Join(", ", built));
        Assert.All(ran, s =>
        {
            Assert.DoesNotContain("KEYS[3]", s.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("ZADD", s.Text, StringComparison.Ordinal);
            Assert.DoesNotContain("ZSCORE", s.Text, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task With_a_handler_the_scripts_that_track_ends_run()
    {
        var ran = await ScriptsRunAsync(tracked: true);

        Assert.Equal(RequestOperations, ran.Select(s => s.Operation).Distinct().Order(StringComparer.Ordinal));
        foreach (var operation in new[] { "acquire", "read-only load", "keep-alive" })
        {
            Assert.All(ran.Where(s => s.Operation == operation), s => Assert.Contains("end_if_due", UnusedHelpers.Defined(operation, s.Text)));
        }

        foreach (var operation in new[] { "acquire", "read-only load", "keep-alive", "release", "write-back" })
        {
            Assert.All(ran.Where(s => s.Operation == operation), s => Assert.Contains("track_end", UnusedHelpers.Defined(operation, s.Text)));
        }
    }

    /// <summary>The store's scripts Redis ran (EVALSHA) for one session through every request operation, in order.</summary>
    private async Task<List<LuaScript>> ScriptsRunAsync(bool tracked)
    {
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions
        {
            Configuration = redis.Configuration,
            KeyPrefix = "endsoff-" + Guid.NewGuid().ToString("N")[..8],
        });
        if (tracked)
        {
            store.TrackEnds(static () => { });
        }

        var id = SessionIds.Create();
        await store.GetSharedAsync(id, default); // connected, the scripts preloaded
        var lines = new ConcurrentQueue<string>();
        using var monitor = await redis.Server.ConnectAsync();
        await monitor.MonitorAsync(lines.Enqueue);

        var lockTimeout = TimeSpan.FromSeconds(30);
        var created = await store.GetExclusiveAsync(id, lockTimeout, createIfMissing: true, default);
        var changes = new SessionChanges(new Dictionary<string, byte[]> { ["a"] = Encoding.UTF8.GetBytes("1") }, [], TimeSpan.FromMinutes(20), isNew: true);
        Assert.True(await store.WriteAndReleaseAsync(id, created.LockId, changes, default));
        Assert.Equal(SessionStoreStatus.Found, (await store.GetSharedAsync(id, default)).Status);
        await store.KeepAliveAsync(id, default);
        Assert.True(await store.ReleaseAsync(id, (await store.GetExclusiveAsync(id, lockTimeout, false, default)).LockId, default));
        Assert.True(await store.ForceReleaseAsync(id, (await store.GetExclusiveAsync(id, lockTimeout, false, default)).LockId, default));
        Assert.True(await store.RemoveAsync(id, (await store.GetExclusiveAsync(id, lockTimeout, false, default)).LockId, default));

        using var inspect = await redis.Server.ConnectAsync();
        var marker = Guid.NewGuid().ToString("N");
        await inspect.CommandAsync("ECHO", marker);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!lines.Any(l => l.Contains(marker, StringComparison.Ordinal)))
        {
            Assert.True(DateTime.UtcNow < deadline, "MONITOR did not show the marker");
            await Task.Delay(10);
        }

        var byHash = RedisSessionStateStore.Scripts.ToDictionary(s => Convert.ToHexStringLower(s.Hash));
        var ran = new List<LuaScript>();
        foreach (var line in lines)
        {
            if (EvalSha().Match(line) is { Success: true } call)
            {
                Assert.True(byHash.TryGetValue(call.Groups["sha"].Value, out var script), "not a script of the store: " + line);
                ran.Add(script);
            }
        }

        return ran;
    }

    // 1700000000.123456 [0 127.0.0.1:5555] "evalsha" "<sha1>" "4" ...
    [GeneratedRegex("^\\+?\\d+\\.\\d+ \\[\\d+ [^\\]]+\\] \"evalsha\" \"(?<sha>[0-9a-f]{40})\"", RegexOptions.IgnoreCase)]
    private static partial Regex EvalSha();
}
