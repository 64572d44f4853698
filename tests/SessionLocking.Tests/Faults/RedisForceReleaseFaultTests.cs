using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// A slow holder's lock is force-released by a waiter on another server (ExecutionTimeout 1 s). Extends
/// <see cref="RedisMultiServerTests.A_force_released_holder_cannot_write_and_the_newer_holders_data_is_intact"/>
/// (holder whose response had started: aborted) with the other outcomes: a holder whose response had not started
/// (exactly 500), a holder that had nothing to write (succeeds, counted), a waiter queued behind the stale holder on
/// its own server, and the same across two server processes.
/// </summary>
public sealed class RedisForceReleaseFaultTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private readonly string _prefix = "forced-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task A_slow_holder_that_wrote_gets_a_500_the_event_and_the_metric_and_the_newer_holders_data_stays()
    {
        var tracker = new WriterTracker();
        await using var first = await StartHostAsync(tracker);
        await using var second = await StartHostAsync(tracker);
        var rejected = 0L;
        using var listener = first.ListenToCounter("sessionlocking.write.rejected", n => Interlocked.Add(ref rejected, n));
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        (await a.PostAsync("/set?key=w&value=before")).Dispose();
        b.SessionId = a.SessionId;
        var id = a.SessionId!;
        first.Gate.Reset();

        var stale = FaultKit.SendAsync(a, HttpMethod.Post, "/faults/hold-quiet?value=stale");
        await first.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        var localWaiter = FaultKit.SendAsync(a, HttpMethod.Post, "/set?key=local&value=first-server"); // queued behind the stale holder, on its server
        await FaultKit.Until(() => first.Services.GetRequiredService<SessionLockCoordinator>().WaitingCount(id) == 1);
        var newer = await FaultKit.SendAsync(b, HttpMethod.Post, "/set?key=w&value=newer"); // takes over after 1 s
        Assert.Equal(200, newer.Status);
        Assert.Equal(200, (await localWaiter.WaitAsync(TimeSpan.FromSeconds(30))).Status);

        first.Gate.Open();
        var outcome = await stale;

        output.WriteLine($"stale holder: {outcome}; newer holder: {newer}");
        Assert.Equal(500, outcome.Status); // Its response had not started: the documented status.
        Assert.Equal(1, Interlocked.Read(ref rejected));
        var sessionKey = new SessionKey(id).ToString();
        Assert.Contains(TestLog.Events, e => e.Id.Name == "WriteBackRejected" && e.Message.Contains(sessionKey, StringComparison.Ordinal));
        Assert.Equal("newer", await b.GetJsonAsync<string>("/get?key=w"));
        Assert.Equal("first-server", await b.GetJsonAsync<string>("/get?key=local"));
        Assert.Null(await a.GetJsonAsync<string>("/get?key=held"));

        // The session is not damaged: both servers take it in turns again, without two writers at once.
        var increments = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => FaultKit.SendAsync(i % 2 == 0 ? a : b, HttpMethod.Post, "/faults/increment")));
        Assert.All(increments, i => Assert.Equal(200, i.Status));
        Assert.Equal(40, (await a.GetJsonAsync<FaultEndpoints.CounterView>("/faults/counter")).Counter);
        Assert.Equal(0, tracker.Violations);
        await AssertNothingLeftAsync(first, second);
    }

    [Fact]
    public async Task A_slow_holder_that_wrote_nothing_is_counted_and_logged_but_its_request_succeeds()
    {
        var tracker = new WriterTracker();
        await using var first = await StartHostAsync(tracker);
        await using var second = await StartHostAsync(tracker);
        var rejected = 0L;
        using var listener = first.ListenToCounter("sessionlocking.write.rejected", n => Interlocked.Add(ref rejected, n));
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        (await a.PostAsync("/set?key=w&value=before")).Dispose();
        b.SessionId = a.SessionId;

        var slow = FaultKit.SendAsync(a, HttpMethod.Get, "/slow-required?ms=2500"); // reads, writes nothing
        await FaultKit.Until(() => tracker.WritersInside(a.SessionId!) == 1);
        var newer = await FaultKit.SendAsync(b, HttpMethod.Post, "/set?key=w&value=newer");
        var outcome = await slow;

        output.WriteLine($"read-only use of a Required lock, force-released: {outcome}; newer: {newer}");
        Assert.Equal(200, newer.Status);
        Assert.Equal(200, outcome.Status); // Nothing of it was lost.
        Assert.Equal(1, Interlocked.Read(ref rejected));
        var sessionKey = new SessionKey(a.SessionId!).ToString();
        Assert.Contains(TestLog.Events, e => e.Id.Name == "WriteBackRejected" && e.Message.Contains(sessionKey, StringComparison.Ordinal));
        Assert.Equal("newer", await a.GetJsonAsync<string>("/get?key=w"));
        await AssertNothingLeftAsync(first, second);
    }

    [Fact]
    public async Task Across_two_server_processes_the_force_released_holder_gets_a_500_and_the_newer_data_stays()
    {
        var environment = new Dictionary<string, string>
        {
            ["SessionState__Mode"] = "Redis",
            ["SessionState__Redis__Configuration"] = redis.Configuration,
            ["SessionState__Redis__KeyPrefix"] = _prefix,
            ["SessionState__ExecutionTimeout"] = "00:00:01",
            ["SessionState__LockWaitTimeout"] = "00:00:30",
        };
        await using var first = await TestServerProcess.StartAsync(environment);
        await using var second = await TestServerProcess.StartAsync(environment);
        using var a = first.CreateClient();
        using var b = second.CreateClient();
        (await a.PostAsync("/set?key=w&value=before")).Dispose();
        b.SessionId = a.SessionId;

        var stale = FaultKit.SendAsync(a, HttpMethod.Post, "/faults/slow-set?key=w&value=stale&ms=2500");
        using (var inspect = await redis.Server.ConnectAsync())
        {
            await FaultKit.UntilAsync(async () => await inspect.IntegerAsync("EXISTS", $"{{{_prefix}:{a.SessionId}}}:lock") == 1);
        }

        var newer = await FaultKit.SendAsync(b, HttpMethod.Post, "/set?key=w&value=newer");
        var outcome = await stale;

        output.WriteLine($"stale holder (process 1): {outcome}; newer holder (process 2): {newer}");
        Assert.Equal(200, newer.Status);
        Assert.Equal(500, outcome.Status);
        Assert.Equal("newer", await a.GetJsonAsync<string>("/get?key=w"));
        Assert.Equal("newer", await b.GetJsonAsync<string>("/get?key=w"));
        await FaultKit.Until(() => first.Output.Contains("its session changes were rejected and not saved", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the first process logged WriteBackRejected");
    }

    private Task<TestHost> StartHostAsync(WriterTracker tracker) =>
        FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = TimeSpan.FromSeconds(1);
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        }, tracker: tracker);

    private async Task AssertNothingLeftAsync(params TestHost[] hosts)
    {
        foreach (var host in hosts)
        {
            await FaultKit.Until(() => host.Services.GetRequiredService<SessionLockCoordinator>().ActiveSessions == 0, TimeSpan.FromSeconds(10));
        }

        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis.Server, _prefix)).Count == 0, TimeSpan.FromSeconds(5), "no lock left");
    }
}
