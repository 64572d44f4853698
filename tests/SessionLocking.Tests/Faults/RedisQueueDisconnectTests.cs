using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Clients that give up while queued for a lock held on another server (Redis between them). The single-waiter case
/// runs on Redis in <c>RedisSessionBehaviorTests.A_client_that_disconnects_while_waiting_leaves_the_queue_at_once</c>;
/// this is the crowded case: the head and others leave, the queue count is exact at every step (the queue limit
/// admits exactly as many as left), and the ones that stayed get the lock in order.
/// </summary>
public sealed class RedisQueueDisconnectTests(RedisFixture redis, ITestOutputHelper output) : IClassFixture<RedisFixture>
{
    private const int Limit = 6;
    private readonly string _prefix = "leave-" + Guid.NewGuid().ToString("N")[..8];

    [Fact]
    public async Task Waiters_that_disconnect_leave_the_queue_at_once_and_the_count_and_the_order_stay_right()
    {
        await using var holderHost = await FaultKit.StartHostAsync(redis.Configuration, _prefix);
        // A poll of 10 s: leaving the queue, and being woken by the release on the other server, cannot be the poll.
        await using var waitHost = await FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.RequestQueueLimitPerSession = Limit;
            o.PollInterval = TimeSpan.FromSeconds(10);
        });
        var coordinator = waitHost.Services.GetRequiredService<SessionLockCoordinator>();
        using var holder = holderHost.CreateClient();
        (await holder.PostAsync("/set?key=w&value=before")).Dispose();
        var id = holder.SessionId!;
        using var waiter = waitHost.CreateClient();
        waiter.SessionId = id;
        holderHost.Gate.Reset();
        var held = FaultKit.SendAsync(holder, HttpMethod.Post, "/faults/hold-quiet?value=h");
        await holderHost.Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));

        var queued = new List<(string Key, CancellationTokenSource Leave, Task<FaultKit.Outcome> Request)>();
        async Task Enqueue(string key)
        {
            var leave = new CancellationTokenSource();
            var before = coordinator.WaitingCount(id);
            queued.Add((key, leave, FaultKit.SendAsync(waiter, HttpMethod.Post, "/faults/increment", leave.Token)));
            await FaultKit.Until(() => coordinator.WaitingCount(id) == before + 1, what: $"{key} queued");
        }

        for (var i = 0; i < Limit; i++)
        {
            await Enqueue($"k{i}");
        }

        Assert.Equal(429, (await FaultKit.SendAsync(waiter, HttpMethod.Post, "/set?key=over&value=1")).Status);

        // The head and two others leave.
        var leaving = new[] { 0, 2, 5 };
        var clock = Stopwatch.StartNew();
        foreach (var i in leaving)
        {
            await queued[i].Leave.CancelAsync();
        }

        await FaultKit.Until(() => coordinator.WaitingCount(id) == Limit - leaving.Length, what: "the three left the queue");
        var left = clock.Elapsed;
        output.WriteLine($"three waiters (the head among them) left the queue {left.TotalMilliseconds:0} ms after their clients disconnected");
        Assert.True(left < TimeSpan.FromSeconds(3), $"leaving took {left}"); // at once: the poll is 10 s
        foreach (var i in leaving)
        {
            Assert.True((await queued[i].Request).Failed);
        }

        // Exactly three places are free again.
        for (var i = 0; i < leaving.Length; i++)
        {
            await Enqueue($"n{i}");
        }

        Assert.Equal(Limit, coordinator.WaitingCount(id));
        Assert.Equal(429, (await FaultKit.SendAsync(waiter, HttpMethod.Post, "/set?key=over&value=1")).Status);

        // The holder on the other server releases: the ones that stayed get the lock, first come first served
        // (each increment's answer says which turn it had), and the ones that left changed nothing.
        holderHost.Gate.Open();
        Assert.Equal(200, (await held).Status);
        var turn = 0;
        foreach (var (key, leave, request) in queued.Where((_, i) => !leaving.Contains(i)))
        {
            var outcome = await request.WaitAsync(TimeSpan.FromSeconds(30));
            output.WriteLine($"{key}: {outcome}, counter {outcome.Counter}");
            Assert.Equal(200, outcome.Status);
            Assert.Equal((++turn).ToString(), outcome.Counter);
            leave.Dispose();
        }

        Assert.Equal(turn, (await holder.GetJsonAsync<TestServer.FaultEndpoints.CounterView>("/faults/counter")).Counter);
        Assert.Equal(0, coordinator.WaitingCount(id));
        await FaultKit.Until(() => coordinator.ActiveSessions == 0, TimeSpan.FromSeconds(10), "the waiting server forgot the session");
        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis.Server, _prefix)).Count == 0, TimeSpan.FromSeconds(5), "no lock left");
    }
}
