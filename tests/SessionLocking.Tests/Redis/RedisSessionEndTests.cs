using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Redis;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestUtilities;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Session_End on a real Redis: once across several servers, with the items, after the abandoning request released or
/// after the timeout (real TTLs, so the session timeout is a second or two); the claim's lease hands a dead server's
/// ends to another; nothing is recorded and no command is added without a handler.
/// </summary>
public sealed class RedisSessionEndTests : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan ShortTimeout = TimeSpan.FromSeconds(2);
    private readonly RedisFixture _redis;
    private readonly string _prefix = "ends-" + Guid.NewGuid().ToString("N")[..8];
    private readonly SessionEndRecorder _ends = new();

    public RedisSessionEndTests(RedisFixture redis) => _redis = redis;

    [Fact]
    public async Task Three_servers_raise_every_end_once_with_its_items_by_abandon_and_by_timeout()
    {
        using var inspect = await _redis.Server.ConnectAsync();

        // Pub/sub cut while ends are pending (the release subscribers): ends do not depend on it.
        await SessionEndFarm.RaisesEveryEndOnceAsync(_redis.Configuration, _prefix, _ends, 1000,
            midway: async () => await inspect.CommandAsync("CLIENT", "KILL", "TYPE", "pubsub"));
        Assert.Empty(await inspect.KeysAsync("{" + _prefix + ":*:ended"));
        Assert.Equal(0L, await inspect.IntegerAsync("ZCARD", "{" + _prefix + ":ends}:due"));
    }

    [Fact]
    public async Task The_ends_a_killed_server_had_claimed_are_raised_by_another_after_the_lease_each_once_with_its_items()
    {
        const int Sessions = 40;
        var log = Path.Combine(Path.GetTempPath(), $"session-ends-{Guid.NewGuid():N}.log");
        var doomed = await TestServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["SessionState__Mode"] = "Redis",
            ["SessionState__Redis__Configuration"] = _redis.Configuration,
            ["SessionState__Redis__KeyPrefix"] = _prefix,
            ["SessionState__Timeout"] = "00:20:00",
            ["SessionState__SessionEndSweepInterval"] = "00:00:00.200",
            ["SessionState__SessionEndHandlerTimeout"] = "00:00:15",
            ["SessionState__MaxConcurrentSessionEndHandlers"] = "100",
            ["TestServer__SessionEndLog"] = log,
            ["TestServer__SessionEndHang"] = "true",
        });
        var seats = new Dictionary<string, string>();
        try
        {
            for (var i = 0; i < Sessions; i++)
            {
                using var client = doomed.CreateClient();
                (await client.PostAsync("/set?key=seat&value=s" + i)).Dispose();
                seats[client.SessionId!] = "s" + i;
                (await client.PostAsync("/abandon")).Dispose();
            }

            // Every end is claimed by the doomed server and its handler is running (and hangs) when the process dies.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (!File.Exists(log) || File.ReadAllLines(log).Count(l => l.StartsWith("start ", StringComparison.Ordinal)) < Sessions)
            {
                Assert.True(DateTime.UtcNow < deadline, "the doomed server did not claim every end");
                await Task.Delay(20);
            }
        }
        finally
        {
            doomed.Kill();
            await doomed.DisposeAsync();
        }

        await using var survivor = await StartHostAsync("survivor");
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Empty(_ends.All); // still the dead server's: its lease (15.2 s) runs

        var raised = await _ends.WaitForAsync(Sessions, TimeSpan.FromSeconds(60));
        await Task.Delay(TimeSpan.FromSeconds(1));
        raised = _ends.All;
        Assert.Equal(Sessions, raised.Count);
        Assert.Equal(seats.Keys.Order(), raised.Select(r => r.SessionId).Order());
        Assert.All(raised, r => Assert.Equal(seats[r.SessionId], r.Items["seat"]));
        Assert.All(raised, r => Assert.Equal(SessionEndReason.Abandoned, r.Reason));
        Assert.DoesNotContain(File.ReadAllLines(log), l => l.StartsWith("end ", StringComparison.Ordinal));
        File.Delete(log);
    }

    [Fact]
    public async Task A_request_after_the_timeout_gets_a_new_session_before_any_sweep_and_the_end_keeps_the_old_items()
    {
        // This server never sweeps on its own; the other one does.
        await using var serving = await StartHostAsync("serving", o => o.SessionEndSweepInterval = TimeSpan.FromHours(1));
        using var client = serving.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var id = client.SessionId!;

        // Real TTLs: wait past the session's timeout (2 s).
        await Task.Delay(ShortTimeout + TimeSpan.FromMilliseconds(500));
        Assert.Null(await client.GetJsonAsync<string?>("/get?key=seat"));
        Assert.Empty(_ends.All);

        await using var sweeping = await StartHostAsync("sweeping");
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(id, raised.SessionId);
        Assert.Equal(SessionEndReason.Timeout, raised.Reason);
        Assert.Equal("12A", raised.Items["seat"]);
    }

    [Fact]
    public async Task A_request_holding_the_lock_past_the_timeout_keeps_the_session_and_no_end_is_raised()
    {
        await using var host = await StartHostAsync("a");
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var holder = await host.HoldLockAsync(client, "held");
        await Task.Delay(ShortTimeout * 2);
        Assert.Empty(_ends.All);

        host.Gate.Open();
        (await holder).Dispose();
        Assert.Equal("held", await client.GetJsonAsync<string>("/get?key=held"));
        Assert.Empty(_ends.All);
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal("12A", raised.Items["seat"]);
    }

    [Fact]
    public async Task A_session_kept_in_use_through_a_server_without_a_handler_is_never_ended_under_it()
    {
        // A farm in the middle of a rolling deployment that adds OnSessionEnd: server "old" has no handler, so its
        // requests slide the session without recording the new expiry in the ends index. The server with the handler
        // must not take the index's stale due time for idleness: no end, no lost items while "old" keeps using it.
        await using var tracking = await StartHostAsync("tracking");
        await using var old = await StartHostAsync("old", o => o.Events.OnSessionEnd = null);
        using var first = tracking.CreateClient();
        (await first.PostAsync("/set?key=seat&value=12A")).Dispose();
        using var onOld = old.CreateClient();
        onOld.SessionId = first.SessionId;

        var inUse = System.Diagnostics.Stopwatch.StartNew();
        while (inUse.Elapsed < ShortTimeout * 2)
        {
            Assert.Equal("12A", await onOld.GetJsonAsync<string?>("/get?key=seat"));
            await Task.Delay(300);
        }

        Assert.Empty(_ends.All);
        Assert.Equal("12A", await first.GetJsonAsync<string?>("/get?key=seat"));
        Assert.Empty(_ends.All);

        // Left alone, it ends once, with its items.
        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(first.SessionId, raised.SessionId);
        Assert.Equal(SessionEndReason.Timeout, raised.Reason);
        Assert.Equal("12A", raised.Items["seat"]);
    }

    [Fact]
    public async Task A_regenerated_id_moves_the_session_and_only_the_new_id_ends()
    {
        await using var host = await StartHostAsync("a");
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=seat&value=12A")).Dispose();
        var oldId = client.SessionId!;
        (await client.PostAsync("/regenerate")).Dispose();
        Assert.NotEqual(oldId, client.SessionId);

        var raised = Assert.Single(await _ends.WaitForAsync(1));
        Assert.Equal(client.SessionId, raised.SessionId);
        Assert.Equal(SessionEndReason.Timeout, raised.Reason);
        Assert.Equal("12A", raised.Items["seat"]);
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.Single(_ends.All);
    }

    [Fact]
    public async Task A_claim_is_one_servers_alone_until_its_lease_runs_out_then_another_raises_it()
    {
        await using var dead = NewStore();
        await using var other = NewStore();
        dead.TrackEnds(() => { });
        other.TrackEnds(() => { });
        var id = SessionIds.Create();
        var taken = await dead.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: true, CancellationToken.None);
        var items = new Dictionary<string, byte[]> { ["seat"] = "12A"u8.ToArray() };
        Assert.True(await dead.WriteAndReleaseAsync(id, taken.LockId, new SessionChanges(items, [], TimeSpan.FromMinutes(20), isNew: true), CancellationToken.None));
        var again = await dead.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: false, CancellationToken.None);
        Assert.True(await dead.AbandonAsync(id, again.LockId, new SessionChanges(new Dictionary<string, byte[]>(), [], TimeSpan.FromMinutes(20), isNew: false), CancellationToken.None));

        var lease = TimeSpan.FromSeconds(2);
        var first = Assert.Single(await dead.ClaimEndsAsync(10, lease, CancellationToken.None));
        Assert.Equal(id, first.SessionId);
        Assert.Equal(SessionEndReason.Abandoned, first.Reason);
        Assert.Empty(await other.ClaimEndsAsync(10, lease, CancellationToken.None));

        // The first claimer died: after its lease the end is the other's, with the same items.
        await Task.Delay(lease + TimeSpan.FromMilliseconds(200));
        var second = Assert.Single(await other.ClaimEndsAsync(10, lease, CancellationToken.None));
        Assert.Equal(id, second.SessionId);
        Assert.Equal("12A"u8.ToArray(), second.Data.Items["seat"]);
        Assert.False(await dead.CompleteEndAsync(first, CancellationToken.None));
        Assert.True(await other.CompleteEndAsync(second, CancellationToken.None));
        Assert.Empty(await other.ClaimEndsAsync(10, TimeSpan.Zero, CancellationToken.None));
    }

    [Fact]
    public async Task Without_a_handler_the_request_scripts_run_no_extra_command_and_write_no_ends_key()
    {
        using var inspect = await _redis.Server.ConnectAsync();
        var withoutHandler = await CommandsOfRequestsAsync(inspect, handler: false);
        var withHandler = await CommandsOfRequestsAsync(inspect, handler: true);

        Assert.False(withoutHandler.ContainsKey("zadd"), "a request script recorded an end without a handler");
        Assert.False(withoutHandler.ContainsKey("zscore"));
        Assert.False(withoutHandler.ContainsKey("rename"));
        Assert.False(withoutHandler.ContainsKey("zrangebyscore"), "a server without a handler swept");
        Assert.True(withHandler.GetValueOrDefault("zadd") > 0, "with a handler the scripts record the expiry");

        // Round trips: the same number of scripts per request with a handler as without.
        Assert.Equal(withoutHandler.GetValueOrDefault("evalsha") + withoutHandler.GetValueOrDefault("eval"),
            withHandler.GetValueOrDefault("evalsha") + withHandler.GetValueOrDefault("eval"));
    }

    /// <summary>INFO commandstats of 15 requests (set, get, set), then 5 abandons on a host with or without a handler; the host never sweeps.</summary>
    private async Task<Dictionary<string, long>> CommandsOfRequestsAsync(RespClient inspect, bool handler)
    {
        var prefix = _prefix + (handler ? "-h" : "-n");
        await using var host = await TestHost.StartAsync(
            o =>
            {
                o.Timeout = ShortTimeout;
                o.SessionEndSweepInterval = TimeSpan.FromHours(1);
                if (handler)
                {
                    o.Events.OnSessionEnd = _ends.Handler();
                }
            },
            store => store.AddRedisStore(o =>
            {
                o.Configuration = _redis.Configuration;
                o.KeyPrefix = prefix;
            }),
            configureApp: MapSetThenAbandon);
        using var warm = host.CreateClient();
        (await warm.PostAsync("/set?key=w&value=1")).Dispose();
        await Task.Delay(200); // the first sweep of a new host (at start) is not a request's
        await inspect.CommandAsync("CONFIG", "RESETSTAT");
        var clients = Enumerable.Range(0, 5).Select(_ => host.CreateClient()).ToArray();
        foreach (var (client, i) in clients.Select((c, i) => (c, i)))
        {
            (await client.PostAsync("/set?key=seat&value=" + i)).Dispose();
            (await client.GetAsync("/get?key=seat")).Dispose();
            (await client.PostAsync("/set?key=seat&value=x" + i)).Dispose();
        }

        // Only requests ran (an abandon wakes the sweep at once, so abandons come after the figures).
        var stats = await inspect.CommandStatsAsync();
        foreach (var client in clients)
        {
            (await client.PostAsync("/abandon")).Dispose();
            client.Dispose();
        }

        if (!handler)
        {
            Assert.Empty(await inspect.KeysAsync("{" + prefix + ":ends}*"));
            Assert.Empty(await inspect.KeysAsync("{" + prefix + ":*:ended"));
        }

        stats.Remove("config");
        stats.Remove("info");
        return stats;
    }

    private RedisSessionStateStore NewStore() => new(new RedisSessionStoreOptions { Configuration = _redis.Configuration, KeyPrefix = _prefix });

    private Task<TestHost> StartHostAsync(string name, Action<LockedSessionOptions>? options = null) =>
        SessionEndFarm.StartHostAsync(_redis.Configuration, _prefix, _ends, name, options);

    private static void MapSetThenAbandon(WebApplication app) => SessionEndFarm.MapSetThenAbandon(app);
}
