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
            .SelectMany(s => UnusedHelpers.Defined(s.Operation, s.Text).Intersect(EndsHelpers).Where(h => !IsNoOp(s.Text, h)).Select(h => s.Operation + ": " + h))
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

    [Fact]
    public void Each_request_script_is_composed_and_preloaded_both_ways_and_the_untracked_one_holds_no_ends_code()
    {
        Assert.Equal(
            ["acquire", "force-release", "keep-alive", "read-only load", "release", "release-by-owner", "remove", "write-back"],
            RedisSessionStateStore.RequestScripts.Select(s => s.Operation).Order(StringComparer.Ordinal));
        foreach (var script in RedisSessionStateStore.RequestScripts)
        {
            Assert.Contains(script.Tracking, RedisSessionStateStore.Scripts);
            Assert.Contains(script.Untracked, RedisSessionStateStore.Scripts);
            Assert.Contains("local ends_key = KEYS[3]", script.Tracking.Text, StringComparison.Ordinal);
            Assert.NotEqual(script.Tracking.Hash, script.Untracked.Hash);
            Assert.Same(script.Untracked, script.For([$"{{a}}:session", $"{{a}}:lock"]));
            Assert.Same(script.Tracking, script.For([$"{{a}}:session", $"{{a}}:lock", "{a}:ends", "{a}:ended"]));

            var text = script.Untracked.Text;
            foreach (var code in new[] { "KEYS[3]", "KEYS[4]", "ZADD", "ZSCORE", "ZREM", "RENAME", "END_GRACE_MS", "ends_now", "now_ms", "end_session", "slid_untracked" })
            {
                Assert.False(text.Contains(code, StringComparison.Ordinal), $"{script.Operation}: '{code}' without ends tracked");
            }

            // What the request scripts call of redis.ends stays, as a no-op, where they call it.
            Assert.All(UnusedHelpers.Defined(script.Operation, text).Intersect(EndsHelpers), helper => Assert.True(IsNoOp(text, helper), $"{script.Operation}: {helper}"));
        }

        // The ends scripts run only while ends are tracked: one composition each, with redis.ends.
        var ends = RedisSessionStateStore.Scripts.Where(s => s.Operation is "abandon" or "due-ends" or "claim-end" or "complete-end").ToArray();
        Assert.Equal(4, ends.Length);
        Assert.Equal(8 * 2 + 4, RedisSessionStateStore.Scripts.Count);
        Assert.Contains("local function end_session(", ends.Single(s => s.Operation == "abandon").Text, StringComparison.Ordinal);
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

    /// <summary>Whether <paramref name="text"/> defines <paramref name="helper"/> as <c>redis.ends_off</c> does: a function that does nothing (a closure Lua still builds, but none of the ends code).</summary>
    private static bool IsNoOp(string text, string helper) => text.Contains($"\nlocal function {helper}() end\n", StringComparison.Ordinal);

    // 1700000000.123456 [0 127.0.0.1:5555] "evalsha" "<sha1>" "4" ...
    [GeneratedRegex("^\\+?\\d+\\.\\d+ \\[\\d+ [^\\]]+\\] \"evalsha\" \"(?<sha>[0-9a-f]{40})\"", RegexOptions.IgnoreCase)]
    private static partial Regex EvalSha();
}
