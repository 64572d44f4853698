using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Diagnostics;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Redis;

/// <summary>Several servers, one Redis: in one process (two Kestrel hosts) and in separate processes.</summary>
public sealed class RedisMultiServerTests : IClassFixture<RedisFixture>
{
    private const int Increments = 500;
    private readonly RedisFixture _redis;
    private readonly string _prefix = "multi-" + Guid.NewGuid().ToString("N")[..8];

    public RedisMultiServerTests(RedisFixture redis) => _redis = redis;

    [Fact]
    public async Task Two_servers_on_one_redis_never_lose_an_increment_and_never_run_two_writers()
    {
        var tracker = new WriterTracker(); // One tracker for both servers: two writers of a session on any two servers is a violation.
        await using var first = await StartHostAsync(tracker);
        await using var second = await StartHostAsync(tracker);
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        Assert.Equal(1, await a.PostJsonAsync<int>("/increment"));
        b.SessionId = a.SessionId;

        var results = await Task.WhenAll(Enumerable.Range(1, Increments - 1).Select(i => (i % 2 == 0 ? a : b).PostJsonAsync<int>("/increment")));

        Assert.Equal(Increments, await b.GetJsonAsync<int>("/counter"));
        Assert.Equal(Enumerable.Range(2, Increments - 1), results.Order());
        Assert.Equal(0, tracker.Violations);
    }

    [Fact]
    public async Task Two_server_processes_on_one_redis_never_lose_an_increment()
    {
        var environment = ProcessEnvironment();
        await using var first = await TestServerProcess.StartAsync(environment);
        await using var second = await TestServerProcess.StartAsync(environment);
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        Assert.Equal(1, await a.PostJsonAsync<int>("/increment"));
        b.SessionId = a.SessionId;

        var results = await Task.WhenAll(Enumerable.Range(1, Increments - 1).Select(i => (i % 2 == 0 ? a : b).PostJsonAsync<int>("/increment")));

        Assert.Equal(Increments, await a.GetJsonAsync<int>("/counter"));
        Assert.Equal(Increments, await b.GetJsonAsync<int>("/counter"));
        Assert.Equal(Enumerable.Range(2, Increments - 1), results.Order());
        foreach (var server in new[] { a, b })
        {
            var tracker = await server.GetJsonAsync<TrackerState>("/tracker");
            Assert.Equal(0, tracker.Violations);
        }

        // Both processes really used Redis (configured by environment variables only).
        using var inspect = await _redis.Server.ConnectAsync();
        Assert.Equal(["counter"], (await Faults.FaultKit.ItemsAsync(inspect, _prefix, a.SessionId!)).Keys);
    }

    [Fact]
    public async Task A_holder_killed_mid_request_leaves_a_lock_that_expires_and_the_last_completed_write_stays()
    {
        var environment = ProcessEnvironment(executionTimeout: "00:00:02");
        await using var crashing = await TestServerProcess.StartAsync(environment);
        await using var survivor = await TestServerProcess.StartAsync(environment);
        using var a = crashing.CreateClient(TimeSpan.FromSeconds(90));
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(i, await a.PostJsonAsync<int>("/increment"));
        }

        var id = a.SessionId!;
        using var inspect = await _redis.Server.ConnectAsync();
        var slow = a.GetAsync("/slow-required?ms=60000");
        var clock = Stopwatch.StartNew();
        while (await inspect.IntegerAsync("EXISTS", $"{{{_prefix}:{id}}}:lock") == 0)
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), "the slow request never took the lock");
            await Task.Delay(10);
        }

        var locked = Stopwatch.StartNew();
        crashing.Kill();
        await Assert.ThrowsAnyAsync<Exception>(() => slow);

        using var b = survivor.CreateClient();
        b.SessionId = id;
        var value = await b.PostJsonAsync<int>("/increment");

        Assert.Equal(4, value); // The data is what the last completed request wrote, plus this increment.
        Assert.True(locked.Elapsed >= TimeSpan.FromSeconds(1.5), $"the session was taken after {locked.Elapsed}, before the lock expired");
        Assert.True(locked.Elapsed < TimeSpan.FromSeconds(15), $"the session was taken only after {locked.Elapsed}");
        Assert.Equal(4, await b.GetJsonAsync<int>("/counter"));
    }

    [Fact]
    public Task A_force_released_holder_cannot_write_and_the_newer_holders_data_is_intact() =>
        ForceReleasedHolderCannotWrite(_redis.Configuration, _prefix);

    /// <summary>
    /// Two servers on one Redis (or cluster), ExecutionTimeout 1 s: a holder on the first keeps the lock past it, a
    /// request on the second takes the session and writes; the old holder's write-back is then rejected (fenced),
    /// logged as WriteBackRejected, counted, and fails visibly; the newer data stays.
    /// </summary>
    internal static async Task ForceReleasedHolderCannotWrite(string configuration, string prefix)
    {
        var tracker = new WriterTracker();
        Action<LockedSessionOptions> options = o =>
        {
            o.ExecutionTimeout = TimeSpan.FromSeconds(1);
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        };
        await using var first = await StartHostAsync(configuration, prefix, tracker, options);
        await using var second = await StartHostAsync(configuration, prefix, tracker, options);
        var rejected = 0L;
        using var listener = first.ListenToCounter("sessionlocking.write.rejected", n => Interlocked.Add(ref rejected, n));
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        (await a.PostAsync("/set?key=w&value=before")).Dispose();
        b.SessionId = a.SessionId;
        var stale = await first.HoldLockAsync(a, "stale");
        using (var newer = await b.PostAsync("/set?key=w&value=newer"))
        {
            Assert.Equal(HttpStatusCode.OK, newer.StatusCode);
        }

        first.Gate.Open();
        try
        {
            using var response = await stale;
            Assert.False(response.IsSuccessStatusCode, $"the stale holder got {(int)response.StatusCode}");
        }
        catch (HttpRequestException)
        {
            // The response had started: the connection was aborted, which the client sees as a failure.
        }

        Assert.Equal("newer", await a.GetJsonAsync<string>("/get?key=w"));
        Assert.Null(await b.GetJsonAsync<string>("/get?key=held"));
        var sessionKey = new SessionKey(a.SessionId!).ToString();
        Assert.Contains(TestLog.Events, e => e.Id.Name == "WriteBackRejected" && e.Message.Contains(sessionKey, StringComparison.Ordinal));
        Assert.Equal(1, Interlocked.Read(ref rejected));
    }

    private Dictionary<string, string> ProcessEnvironment(string? executionTimeout = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["SessionState__Mode"] = "Redis",
            ["SessionState__Redis__Configuration"] = _redis.Configuration,
            ["SessionState__Redis__KeyPrefix"] = _prefix,
            ["SessionState__RequestQueueLimitPerSession"] = "1000",
        };
        if (executionTimeout is not null)
        {
            environment["SessionState__ExecutionTimeout"] = executionTimeout;
            environment["SessionState__LockWaitTimeout"] = "00:00:30";
        }

        return environment;
    }

    private Task<TestHost> StartHostAsync(WriterTracker tracker, Action<LockedSessionOptions>? options = null) =>
        StartHostAsync(_redis.Configuration, _prefix, tracker, options);

    private static Task<TestHost> StartHostAsync(string configuration, string prefix, WriterTracker tracker, Action<LockedSessionOptions>? options = null) =>
        TestHost.StartAsync(
            o =>
            {
                o.RequestQueueLimitPerSession = 1000;
                options?.Invoke(o);
            },
            store => store.AddRedisStore(o =>
            {
                o.Configuration = configuration;
                o.KeyPrefix = prefix;
            }),
            services => services.AddSingleton(tracker));

    private sealed record TrackerState(int Violations, int MaxReadersTogether);
}
