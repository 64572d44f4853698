using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// Round trips per request kind, measured on the Redis server: <c>INFO commandstats</c> before and after counts the
/// scripts run (EVALSHA/EVAL), and MONITOR shows that the store's connection sent no other data command (commands
/// a script runs are shown as coming from <c>lua</c>, so they are told apart).
/// </summary>
public sealed partial class RedisRoundTripTests : IClassFixture<RedisFixture>, IAsyncLifetime
{
    /// <summary>Commands a client may send besides scripts: connection upkeep and pub/sub of waiters, no data.</summary>
    private static readonly HashSet<string> Upkeep = new(StringComparer.OrdinalIgnoreCase)
    {
        "ping", "echo", "info", "client", "cluster", "config", "subscribe", "unsubscribe", "ssubscribe", "sunsubscribe", "select", "auth", "hello",
    };

    private readonly RedisFixture _redis;
    private readonly ConcurrentQueue<string> _monitor = new();
    private RespClient _stats = null!;
    private RespClient _monitorConnection = null!;

    public RedisRoundTripTests(RedisFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        _stats = await _redis.Server.ConnectAsync();
        _monitorConnection = await _redis.Server.ConnectAsync();
        await _monitorConnection.MonitorAsync(_monitor.Enqueue);
    }

    public Task DisposeAsync()
    {
        _stats.Dispose();
        _monitorConnection.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Each_request_kind_takes_the_documented_number_of_round_trips()
    {
        // A poll interval longer than the test: a waiter asks again only when woken.
        var prefix = "trips-" + Guid.NewGuid().ToString("N")[..8];
        await using var host = await StartHostAsync(o => o.PollInterval = TimeSpan.FromMinutes(5), prefix: prefix);
        await using var other = await StartHostAsync(o => o.PollInterval = TimeSpan.FromMinutes(5), prefix: prefix);
        using var client = host.CreateClient();
        await WarmUp(host);
        await WarmUp(other);

        var measured = new Dictionary<string, int>
        {
            ["Required, new session, writes"] = await ScriptsRunBy(async () => (await client.PostAsync("/set?key=a&value=1")).Dispose()),
            ["Required, writes"] = await ScriptsRunBy(async () => (await client.PostAsync("/set?key=a&value=2")).Dispose()),
            ["Required, does not write"] = await ScriptsRunBy(async () => Assert.Equal("2", await client.GetJsonAsync<string>("/get-required?key=a"))),
            ["ReadOnly"] = await ScriptsRunBy(async () => Assert.Equal("2", await client.GetJsonAsync<string>("/get?key=a"))),
            ["no session, keep-alive"] = await ScriptsRunBy(async () => Assert.Equal("ok", await client.GetJsonAsync<string>("/disabled"))),
            ["Required that waited on the same server (holder + waiter)"] = await ScriptsRunBy(async () =>
            {
                var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
                var holder = await host.HoldLockAsync(client, "h");
                var waiter = client.PostAsync("/set?key=a&value=3");
                await Until(() => coordinator.WaitingCount(client.SessionId!) == 1);
                host.Gate.Open();
                (await holder).Dispose();
                (await waiter.WaitAsync(TimeSpan.FromSeconds(10))).Dispose();
            }),
            ["Required that waited on another server (holder + waiter)"] = await ScriptsRunBy(async () =>
            {
                using var elsewhere = other.CreateClient();
                elsewhere.SessionId = client.SessionId;
                var coordinator = other.Services.GetRequiredService<SessionLockCoordinator>();
                var holder = await host.HoldLockAsync(client, "h");
                var waiter = elsewhere.PostAsync("/set?key=a&value=4");
                await Until(() => coordinator.WaitingCount(client.SessionId!) == 1);
                await Task.Delay(100); // Subscribed (the subscription is made when the waiter queues).
                host.Gate.Open();
                (await holder).Dispose();
                (await waiter.WaitAsync(TimeSpan.FromSeconds(10))).Dispose(); // Woken by the release published in Redis, not by the 5-minute poll.
            }),
        };

        var expected = new Dictionary<string, int>
        {
            ["Required, new session, writes"] = 2, // acquire-and-load (creates the lock), write-back-and-release
            ["Required, writes"] = 2, // acquire-and-load, write-back-and-release
            ["Required, does not write"] = 2, // acquire-and-load, release
            ["ReadOnly"] = 1, // shared load
            ["no session, keep-alive"] = 1, // keep-alive
            ["Required that waited on the same server (holder + waiter)"] = 4, // holder 2; waiter: one ask when the local release wakes it, write-back
            ["Required that waited on another server (holder + waiter)"] = 5, // holder 2; waiter: locked answer, one ask when the published release wakes it, write-back
        };
        Assert.Equal(expected, measured);
    }

    [Fact]
    public async Task The_count_fails_when_a_request_takes_an_extra_round_trip()
    {
        // The measurement itself can tell: an endpoint that makes one more store call is counted.
        await using var host = await StartHostAsync(app: app => app.MapPost("/extra", async (HttpContext context, ISessionStateStore store) =>
        {
            context.GetSessionState()["x"] = "1";
            await store.KeepAliveAsync(context.GetSessionState().SessionID, context.RequestAborted);
        }));
        using var client = host.CreateClient();
        await WarmUp(host);
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        Assert.Equal(3, await ScriptsRunBy(async () => (await client.PostAsync("/extra")).Dispose()));
    }

    [Fact]
    public async Task A_request_that_changes_one_item_sends_only_that_item()
    {
        await using var host = await StartHostAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=AAAA-value")).Dispose();
        (await client.PostAsync("/set?key=b&value=BBBB-value")).Dispose();
        (await client.PostAsync("/set?key=c&value=CCCC-value")).Dispose();

        Assert.Equal(2, await ScriptsRunBy(async () => (await client.PostAsync("/set?key=b&value=BBBB-new")).Dispose()));

        var sent = _monitor.Where(l => l.Contains("\"evalsha\"", StringComparison.OrdinalIgnoreCase) && !l.Contains("[0 lua]", StringComparison.Ordinal)).ToArray();
        var writeBack = Assert.Single(sent, l => l.Contains("BBBB-new", StringComparison.Ordinal));
        Assert.DoesNotContain("AAAA-value", writeBack, StringComparison.Ordinal);
        Assert.DoesNotContain("CCCC-value", writeBack, StringComparison.Ordinal);
        Assert.DoesNotContain("BBBB-value", writeBack, StringComparison.Ordinal);
        Assert.Equal("AAAA-value", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal("BBBB-new", await client.GetJsonAsync<string>("/get?key=b"));
        Assert.Equal("CCCC-value", await client.GetJsonAsync<string>("/get?key=c"));
    }

    private Task<TestHost> StartHostAsync(Action<LockedSessionOptions>? options = null, Action<WebApplication>? app = null, string? prefix = null) =>
        TestHost.StartAsync(
            options,
            store => store.AddRedisStore(o =>
            {
                o.Configuration = _redis.Configuration;
                o.KeyPrefix = prefix ?? "trips-" + Guid.NewGuid().ToString("N")[..8];
            }),
            configureApp: app);

    /// <summary>Loads every script into Redis once (the first use of a script after a restart costs one extra EVAL).</summary>
    private static async Task WarmUp(TestHost host)
    {
        using var warm = host.CreateClient();
        (await warm.PostAsync("/set?key=w&value=1")).Dispose();
        (await warm.GetAsync("/get-required?key=w")).Dispose();
        (await warm.GetAsync("/get?key=w")).Dispose();
        (await warm.GetAsync("/disabled")).Dispose();
    }

    /// <summary>Runs <paramref name="requests"/> and returns how many scripts Redis ran for it, after checking that no client sent any other data command.</summary>
    private async Task<int> ScriptsRunBy(Func<Task> requests)
    {
        await Settle();
        var before = await _stats.CommandStatsAsync();
        _monitor.Clear();

        await requests();

        await Settle();
        var after = await _stats.CommandStatsAsync();
        var scripts = Delta(before, after, "evalsha") + Delta(before, after, "eval");
        var fromClients = _monitor
            .Select(line => MonitorLine().Match(line))
            .Where(m => m.Success && m.Groups["source"].Value != "lua")
            .Select(m => m.Groups["command"].Value.ToLowerInvariant())
            .ToArray();
        var other = fromClients.Where(c => c is not ("evalsha" or "eval") && !Upkeep.Contains(c)).ToArray();
        Assert.True(other.Length == 0, "clients sent data commands besides scripts: " + string.Join(", ", other));
        Assert.Equal(scripts, fromClients.Count(c => c is "evalsha" or "eval"));
        return (int)scripts;
    }

    /// <summary>Waits until the last script of the requests reached Redis (a write-back runs after the response is sent).</summary>
    private async Task Settle()
    {
        var marker = Guid.NewGuid().ToString("N");
        await Task.Delay(100);
        await _stats.CommandAsync("ECHO", marker);
        await Until(() => _monitor.Any(l => l.Contains(marker, StringComparison.Ordinal)));
    }

    private static long Delta(Dictionary<string, long> before, Dictionary<string, long> after, string command) =>
        after.GetValueOrDefault(command) - before.GetValueOrDefault(command);

    private static async Task Until(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not become true in time.");
            }

            await Task.Delay(5);
        }
    }

    // 1700000000.123456 [0 127.0.0.1:5555] "evalsha" "..."   or   [0 lua] "hgetall" "..."
    [GeneratedRegex("^\\+?\\d+\\.\\d+ \\[\\d+ (?<source>[^\\]]+)\\] \"(?<command>[^\"]+)\"")]
    private static partial Regex MonitorLine();
}
