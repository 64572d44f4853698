using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Redis is there but does not answer: <c>CLIENT PAUSE … ALL</c> (commands queue unanswered) and a busy server
/// (a script spinning for the duration: the effect of <c>DEBUG SLEEP</c>, which Redis 7 disables by default). Waits stay bounded by the operation timeout, failures are clear, the application
/// recovers by itself, and the locks that acquires cut off by the timeout took when Redis woke up (nobody's locks)
/// are released by the store's clean-up right after the stall.
/// </summary>
public sealed class RedisStallTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(3);
    private const string Unavailable = "The session store is unavailable.";
    private readonly string _prefix = "stall-" + Guid.NewGuid().ToString("N")[..8];

    public static TheoryData<string> Stalls => new() { "pause", "busy" };

    [Theory]
    [MemberData(nameof(Stalls))]
    public async Task Requests_arriving_during_a_stall_fail_with_503_within_the_operation_timeout_and_recover_after_it(string stall)
    {
        await using var host = await StartHostAsync();
        var clients = Enumerable.Range(0, 3).Select(_ => host.CreateClient()).ToArray();
        for (var i = 0; i < clients.Length; i++)
        {
            (await clients[i].PostAsync($"/set?key=w&value=before-{i}")).Dispose();
        }

        await using var probes = new FaultKit.Prober(host.Address);
        await StallAsync(stall, TimeSpan.FromSeconds(3));
        var stalled = Stopwatch.StartNew();

        var requests = new List<(string Kind, Task<FaultKit.Outcome> Request)>();
        foreach (var client in clients)
        {
            requests.Add(("required", FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=w&value=during")));
            requests.Add(("read-only", FaultKit.SendAsync(client, HttpMethod.Get, "/get?key=w")));
        }

        var newcomers = Enumerable.Range(0, 2).Select(_ => host.CreateClient()).ToArray();
        requests.AddRange(newcomers.Select(c => ("new session", FaultKit.SendAsync(c, HttpMethod.Post, "/set?key=w&value=new"))));
        var keepAlive = FaultKit.SendAsync(clients[0], HttpMethod.Get, "/disabled");
        await Task.WhenAll(requests.Select(r => r.Request));
        var stallSeenFor = stalled.Elapsed;

        foreach (var (kind, request) in requests)
        {
            var outcome = await request;
            output.WriteLine($"{stall}, {kind}: {outcome}");
            Assert.Equal(503, outcome.Status);
            Assert.Equal(Unavailable, outcome.Body);
            Assert.True(outcome.Elapsed < OperationTimeout + TimeSpan.FromSeconds(1.5), $"{kind} took {outcome.Elapsed}");
        }

        Assert.True(stallSeenFor < TimeSpan.FromSeconds(2), $"the requests were answered only after {stallSeenFor}, not before the stall ended");
        Assert.All(newcomers, c => Assert.Null(c.SessionId)); // No cookie for a session that was never had.
        var slid = await keepAlive; // A request without session state does not fail because sliding failed.
        output.WriteLine($"{stall}, keep-alive of a Disabled request: {slid}");
        Assert.Equal(200, slid.Status);
        Assert.True(slid.Elapsed < OperationTimeout - TimeSpan.FromMilliseconds(100), $"a Disabled page waited {slid.Elapsed} for its keep-alive"); // it slides in the background
        await FaultKit.Until(() => TestLog.Has("KeepAliveFailed") || TestLog.Has("StoreCircuitOpened"), TimeSpan.FromSeconds(5), "the failed keep-alive was logged");
        await probes.DisposeAsync();
        output.WriteLine(probes.ToString());
        Assert.All(probes.Outcomes, p => Assert.Equal(200, p.Status));
        Assert.True(probes.Outcomes.Max(p => p.Elapsed) < TimeSpan.FromSeconds(2), probes.ToString());

        await AssertRecoveredAsync(host, clients, i => $"before-{i}");
    }

    [Theory]
    [MemberData(nameof(Stalls))]
    public async Task A_stall_while_requests_wait_for_a_lock_fails_the_holder_visibly_and_every_waiter_within_bounds(string stall)
    {
        await using var host = await StartHostAsync();
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=w&value=before")).Dispose();
        var id = client.SessionId!;
        host.Gate.Reset();
        var holder = FaultKit.SendAsync(client, HttpMethod.Post, "/faults/hold-quiet?value=held");
        await host.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        var waiters = new List<(string Value, Task<FaultKit.Outcome> Request)>();
        for (var i = 0; i < 4; i++)
        {
            waiters.Add(i % 2 == 0
                ? ($"waiter-{i}", FaultKit.SendAsync(client, HttpMethod.Post, $"/set?key=w&value=waiter-{i}"))
                : ("read", FaultKit.SendAsync(client, HttpMethod.Get, "/get?key=w")));
            var queued = i + 1;
            await FaultKit.Until(() => coordinator.WaitingCount(id) == queued);
        }

        await StallAsync(stall, TimeSpan.FromSeconds(2));
        host.Gate.Open(); // The holder's write-back meets the stall.

        var held = await holder;
        output.WriteLine($"{stall}, holder: {held}");
        Assert.Equal(500, held.Status);
        Assert.True(held.Elapsed < TimeSpan.FromSeconds(30));
        foreach (var (value, request) in waiters)
        {
            // A waiter that asked during the stall failed with 503; one that asked after it may have got the lock.
            var outcome = await request.WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{stall}, {value}: {outcome}");
            Assert.Contains(outcome.Status, new int?[] { 200, 503 });
            if (outcome.Status == 503)
            {
                Assert.Equal(Unavailable, outcome.Body);
            }
        }

        await FaultKit.Until(() => coordinator.WaitingCount(id) == 0);
        var written = new List<string> { "before" };
        foreach (var (value, request) in waiters)
        {
            if (value != "read" && (await request).Status == 200)
            {
                written.Add(value);
            }
        }

        // The session ends with the last value a request was told it wrote (or the value of before).
        await AssertRecoveredAsync(host, [client], _ => written[^1]);
    }

    [Fact]
    public async Task A_stall_shorter_than_the_operation_timeout_only_delays_requests()
    {
        await using var host = await StartHostAsync(operationTimeout: TimeSpan.FromSeconds(2));
        var clients = Enumerable.Range(0, 4).Select(_ => host.CreateClient()).ToArray();
        foreach (var client in clients)
        {
            (await client.PostAsync("/faults/increment")).Dispose();
        }

        await StallAsync("pause", TimeSpan.FromMilliseconds(300));
        var outcomes = await Task.WhenAll(clients.SelectMany(c => new[]
        {
            FaultKit.SendAsync(c, HttpMethod.Post, "/faults/increment"),
            FaultKit.SendAsync(c, HttpMethod.Get, "/faults/counter"),
        }));

        Assert.All(outcomes, o => Assert.Equal(200, o.Status));
        Assert.Contains(outcomes, o => o.Elapsed > TimeSpan.FromMilliseconds(150)); // They did meet the pause.
        foreach (var client in clients)
        {
            Assert.Equal(2, (await client.GetJsonAsync<TestServer.FaultEndpoints.CounterView>("/faults/counter")).Counter);
        }
    }

    private Task<TestHost> StartHostAsync(TimeSpan? operationTimeout = null) =>
        FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = ExecutionTimeout;
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        }, operationTimeout ?? OperationTimeout);

    private async Task StallAsync(string stall, TimeSpan duration)
    {
        if (stall == "pause")
        {
            using var admin = await redis.Server.ConnectAsync();
            Assert.Equal("OK", await admin.StringAsync("CLIENT", "PAUSE", ((long)duration.TotalMilliseconds).ToString(), "ALL"));
            return;
        }

        // The server blocked as by DEBUG SLEEP, which Redis 7 refuses unless started with enable-debug-command:
        // a script that spins on TIME for the duration (like any long command: KEYS *, a huge DEL) blocks the
        // single-threaded server; below busy-script-time-limit (5 s) other clients just get no answer.
        _ = FaultKit.FireAsync(redis.Server, "EVAL", BusyScript, "0", ((long)duration.TotalMicroseconds).ToString());
        await FaultKit.UntilAsync(async () =>
        {
            using var ping = await redis.Server.ConnectAsync();
            return !ping.StringAsync("PING").Wait(TimeSpan.FromMilliseconds(250));
        }, TimeSpan.FromSeconds(5), "redis-server is busy");
    }

    private const string BusyScript = """
        local t = redis.call('TIME')
        local started = t[1] * 1000000 + t[2]
        while true do
          local now = redis.call('TIME')
          if now[1] * 1000000 + now[2] - started >= tonumber(ARGV[1]) then return 1 end
        end
        """;

    /// <summary>
    /// After the stall: acquires cut off by the operation timeout ran when Redis woke up and took locks whose token
    /// nobody knows; the store's clean-up (a release-by-owner queued right behind each) frees them at once, so no lock
    /// is left a moment after the stall (before, each lived its TTL, ExecutionTimeout), the next request of each
    /// session gets it without waiting, and the session holds the data it should.
    /// </summary>
    private async Task AssertRecoveredAsync(TestHost host, SessionClient[] clients, Func<int, string> expected)
    {
        await FaultKit.UntilAsync(async () =>
        {
            using var ping = await redis.Server.ConnectAsync();
            return ping.StringAsync("PING").Wait(TimeSpan.FromMilliseconds(200));
        }, TimeSpan.FromSeconds(10), "redis answers again");
        var awake = System.Diagnostics.Stopwatch.StartNew();
        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis.Server, _prefix)).Count == 0, TimeSpan.FromSeconds(1.5), "no lock left a moment after the stall");
        output.WriteLine($"no lock left {awake.ElapsedMilliseconds} ms after Redis answered again");

        // If the failures opened the store circuit breaker, it closes at its first probe after the break (1 s).
        using (var prober = host.CreateClient())
        {
            await FaultKit.UntilAsync(async () => (await FaultKit.SendAsync(prober, HttpMethod.Post, "/set?key=probe&value=1")).Status == 200, TimeSpan.FromSeconds(3), "sessions are served again");
        }

        output.WriteLine($"sessions served again {awake.ElapsedMilliseconds} ms after Redis answered again");

        for (var i = 0; i < clients.Length; i++)
        {
            var outcome = await FaultKit.SendAsync(clients[i], HttpMethod.Get, "/get-required?key=w");
            output.WriteLine($"session {i} after the stall: {outcome}");
            Assert.Equal(200, outcome.Status);
            Assert.Equal($"\"{expected(i)}\"", outcome.Body);
            Assert.True(outcome.Elapsed < TimeSpan.FromSeconds(1.5), $"the session was blocked for {outcome.Elapsed}");
        }

        Assert.Empty(await FaultKit.LockKeysAsync(redis.Server, _prefix));
        await FaultKit.Until(() => host.Services.GetRequiredService<SessionLockCoordinator>().ActiveSessions == 0, TimeSpan.FromSeconds(10));
    }
}
