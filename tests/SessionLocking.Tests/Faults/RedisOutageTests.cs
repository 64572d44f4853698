using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Locking;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Redis goes away while requests hold locks, wait for them and keep arriving, then comes back on the same port.
/// Two ways to go away: <c>SHUTDOWN SAVE</c> (a maintenance stop: the data is written to the RDB file in the server's
/// temporary directory and loaded again at start, so data written before the outage must be intact) and SIGKILL
/// without persistence (a crash: the data is gone, and the application must say so: a new session, never the old
/// id with an empty session).
/// </summary>
[Collection(SerialFaults.Name)]
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private static readonly TimeSpan OperationTimeout = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan ExecutionTimeout = TimeSpan.FromSeconds(4);
    private const string Unavailable = "The session store is unavailable.";
    private readonly string _prefix = "outage-" + Guid.NewGuid().ToString("N")[..8];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Redis_stopped_with_requests_in_flight_fails_them_within_bounds_and_the_same_host_recovers(bool persisted)
    {
        await using var redis = await RedisServer.StartAsync();
        await using var host = await FaultKit.StartHostAsync(redis.Configuration, _prefix, o =>
        {
            o.ExecutionTimeout = ExecutionTimeout;
            o.LockWaitTimeout = TimeSpan.FromSeconds(30);
        }, OperationTimeout);
        var coordinator = host.Services.GetRequiredService<SessionLockCoordinator>();
        var clock = Stopwatch.StartNew();

        // Six sessions with data: 0-2 will have a holder and waiters in flight, 3-5 get new requests all along.
        var clients = Enumerable.Range(0, 6).Select(_ => host.CreateClient(TimeSpan.FromSeconds(60))).ToArray();
        for (var i = 0; i < clients.Length; i++)
        {
            Assert.Equal(200, (await FaultKit.SendAsync(clients[i], HttpMethod.Post, $"/set?key=w&value=before-{i}")).Status);
            Assert.Equal(200, (await FaultKit.SendAsync(clients[i], HttpMethod.Post, "/faults/increment")).Status);
        }

        var ids = clients.Select(c => c.SessionId!).ToArray();

        // In flight: a holder inside its endpoint (lock held), three Required and two ReadOnly requests queued behind it.
        host.Gate.Reset();
        var inFlight = new List<(string Kind, int Session, Task<FaultKit.Outcome> Request, Stopwatch Done)>();
        Task<FaultKit.Outcome> Track(string kind, int session, Task<FaultKit.Outcome> request)
        {
            var done = new Stopwatch();
            var tracked = request.ContinueWith(t => { done.Start(); return t.Result; }, TaskScheduler.Default);
            inFlight.Add((kind, session, tracked, done));
            return tracked;
        }

        for (var i = 0; i < 3; i++)
        {
            _ = Track("holder", i, FaultKit.SendAsync(clients[i], HttpMethod.Post, $"/faults/hold-quiet?value=held-{i}"));
        }

        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis, _prefix)).Count == 3, what: "three holders took their locks");
        for (var i = 0; i < 3; i++)
        {
            for (var w = 0; w < 5; w++)
            {
                _ = Track(w < 3 ? "required waiter" : "read-only waiter", i, w < 3
                    ? FaultKit.SendAsync(clients[i], HttpMethod.Post, "/set?key=w&value=waiter")
                    : FaultKit.SendAsync(clients[i], HttpMethod.Get, "/get?key=w"));
                var session = i;
                var expected = w + 1;
                await FaultKit.Until(() => coordinator.WaitingCount(ids[session]) == expected, what: "the request queued");
            }
        }

        // Arrivals: four clients keep sending requests to sessions 3-5 and for new sessions, before, during and after.
        var arrivals = new ConcurrentQueue<Arrival>();
        using var stopArrivals = new CancellationTokenSource();
        var arrivalLoops = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            for (var n = 0; !stopArrivals.IsCancellationRequested; n++)
            {
                var session = 3 + ((n + worker) % 3);
                var (kind, method, path, client) = ((n + worker) % 4) switch
                {
                    0 => ("increment", HttpMethod.Post, "/faults/increment", clients[session]),
                    1 => ("read", HttpMethod.Get, "/get?key=w", clients[session]),
                    2 => ("read-only counter", HttpMethod.Get, "/faults/counter", clients[session]),
                    _ => ("new session", HttpMethod.Post, "/set?key=w&value=new", host.CreateClient(TimeSpan.FromSeconds(60))),
                };
                var sentAt = clock.Elapsed;
                var outcome = await FaultKit.SendAsync(client, method, path);
                arrivals.Enqueue(new Arrival(kind, session, sentAt, clock.Elapsed, outcome));
                if (kind == "new session")
                {
                    client.Dispose();
                }

                await Task.Delay(30);
            }
        })).ToArray();

        await using var probes = new FaultKit.Prober(host.Address);
        await using var pool = new FaultKit.ThreadPoolWatch();
        await Task.Delay(300);

        // The fault.
        if (persisted)
        {
            await FaultKit.FireAsync(redis, "SHUTDOWN", "SAVE");
            await FaultKit.Until(() => !redis.IsRunning, TimeSpan.FromSeconds(10), "redis-server exited");
        }
        else
        {
            redis.Kill();
        }

        var downAt = clock.Elapsed;
        var down = Stopwatch.StartNew();
        await Task.Delay(300);
        host.Gate.Open(); // The holders' write-backs now meet a Redis that is gone.

        var all = Task.WhenAll(inFlight.Select(f => f.Request));
        Assert.Same(all, await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(30))));
        var inFlightBound = TimeSpan.FromSeconds(15);
        foreach (var (kind, session, request, done) in inFlight)
        {
            var outcome = await request;
            var finishedAfterStop = down.Elapsed - done.Elapsed;
            output.WriteLine($"in flight, session {session}, {kind}: {outcome}, finished {finishedAfterStop.TotalMilliseconds:0} ms after the stop");
            Assert.True(finishedAfterStop < inFlightBound, $"{kind} of session {session} finished {finishedAfterStop} after the stop");
            if (kind == "holder")
            {
                Assert.Equal(500, outcome.Status); // The write-back failed: never a normal response.
            }
            else
            {
                Assert.Equal(503, outcome.Status);
                Assert.Equal(Unavailable, outcome.Body);
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(1.5)); // Arrivals during a settled outage.
        var restartAt = clock.Elapsed;
        var poolDuringOutage = pool.ToString();
        var maxThreads = pool.MaxThreads;
        var maxPending = pool.MaxPending;
        var baseline = pool.BaselineThreads;
        var probeOutcomes = probes.Outcomes;
        await redis.RestartAsync(); // With persistence it loads the RDB written at SHUTDOWN; without, it starts empty.
        var locksAtRestart = await FaultKit.LockKeysAsync(redis, _prefix);

        // Recovery, on the same host, without a restart of the application.
        using var fresh = host.CreateClient();
        await FaultKit.UntilAsync(async () => (await FaultKit.SendAsync(fresh, HttpMethod.Post, "/set?key=x&value=1")).Status == 200, TimeSpan.FromSeconds(30), "sessions work again");
        var upAt = clock.Elapsed;
        await Task.Delay(TimeSpan.FromSeconds(1));
        await stopArrivals.CancelAsync();
        await Task.WhenAll(arrivalLoops);

        output.WriteLine($"redis {(persisted ? "stopped with SHUTDOWN SAVE" : "killed (SIGKILL, no persistence)")} at {downAt.TotalSeconds:0.00} s, restarted at {restartAt.TotalSeconds:0.00} s, sessions served again at {upAt.TotalSeconds:0.00} s");
        output.WriteLine(poolDuringOutage);
        output.WriteLine($"{probeOutcomes.Count} probes of a non-session endpoint during the outage, slowest {probeOutcomes.Max(o => o.Elapsed.TotalMilliseconds):0} ms");
        foreach (var group in arrivals.GroupBy(a => (a.Kind, Phase: a.SentAt < downAt ? "before" : a.DoneAt < restartAt ? "during" : "around/after"))
                     .OrderBy(g => g.Key.Phase))
        {
            output.WriteLine($"arrivals {group.Key.Phase}, {group.Key.Kind}: {string.Join(", ", group.GroupBy(a => a.Outcome.Status?.ToString() ?? "error").Select(s => $"{s.Count()}×{s.Key}"))}, slowest {group.Max(a => a.Outcome.Elapsed.TotalMilliseconds):0} ms");
        }

        // During the outage: every session request failed with the documented 503 within the operation timeout
        // plus a margin, and none got a session (above all not an empty one).
        var during = arrivals.Where(a => a.SentAt > downAt && a.DoneAt < restartAt).ToArray();
        Assert.True(during.Length >= 10, $"only {during.Length} requests arrived during the outage");
        Assert.All(during, a =>
        {
            Assert.Equal(503, a.Outcome.Status);
            Assert.Equal(Unavailable, a.Outcome.Body);
            Assert.True(a.Outcome.Elapsed < OperationTimeout + TimeSpan.FromSeconds(3), $"{a.Kind} took {a.Outcome.Elapsed}");
        });

        // A request without session state kept answering quickly, and nothing piled up on the thread pool.
        Assert.True(probeOutcomes.Count >= 10, $"only {probeOutcomes.Count} probes");
        Assert.All(probeOutcomes, p => Assert.Equal(200, p.Status));
        Assert.True(probeOutcomes.Max(o => o.Elapsed) < TimeSpan.FromSeconds(2), $"a request without session state took {probeOutcomes.Max(o => o.Elapsed)} during the outage");
        Assert.True(maxPending < 200, poolDuringOutage);
        Assert.True(maxThreads <= baseline + 25, poolDuringOutage);

        // Every answer a client got with a session is right: a read of a stored session never sees it empty.
        foreach (var read in arrivals.Where(a => a.Kind == "read" && a.Outcome.Status == 200))
        {
            Assert.Equal(persisted || read.SentAt < downAt ? $"\"before-{read.Session}\"" : string.Empty, read.Outcome.Body);
        }

        if (persisted)
        {
            // Data written before the outage is intact; the changes of requests that failed were not applied;
            // every increment that got a 200 counted, and the ones that failed at acquire did not.
            for (var i = 0; i < 6; i++)
            {
                Assert.Equal($"before-{i}", await clients[i].GetJsonAsync<string>("/get-required?key=w"));
                Assert.Null(await clients[i].GetJsonAsync<string>("/get?key=held")); // the holders' write-backs failed
            }

            for (var i = 3; i < 6; i++)
            {
                var increments = arrivals.Where(a => a.Kind == "increment" && a.Session == i).ToArray();
                var ok = 1 + increments.Count(a => a.Outcome.Status == 200);
                var unknown = increments.Count(a => a.Outcome.Status is not (200 or 503 or 429));
                var counter = (await clients[i].GetJsonAsync<FaultEndpoints.CounterView>("/faults/counter")).Counter;
                output.WriteLine($"session {i}: counter {counter}, increments answered 200: {ok}, unknown outcome: {unknown}");
                Assert.InRange(counter, ok, ok + unknown);
            }
        }
        else
        {
            // The data is gone with the crashed Redis. The application says so: the old id is not reused; the
            // request gets a new, empty session with a new id (IsNewSession), never the old id with nothing in it.
            for (var i = 0; i < 6; i++)
            {
                using var returning = host.CreateClient();
                returning.SessionId = ids[i]; // the cookie the browser still has
                var view = await returning.GetJsonAsync<FaultEndpoints.CounterView>("/faults/counter");
                Assert.True(view.IsNew, $"session {i} was not reported as new after its data was lost");
                Assert.Equal(0, view.Counter);
                Assert.Equal(1, await returning.PostJsonAsync<int>("/increment"));
                Assert.NotEqual(ids[i], returning.SessionId);
            }
        }

        // Locks of the holders (in the RDB with persistence) or of acquires cut off by the stop live at most their
        // TTL; then every session is usable again.
        output.WriteLine($"locks when Redis came back: {locksAtRestart.Count}, TTLs {string.Join(", ", locksAtRestart.Values)} ms");
        Assert.All(locksAtRestart.Values, ttl => Assert.InRange(ttl, 0, (long)ExecutionTimeout.TotalMilliseconds));
        await FaultKit.UntilAsync(async () => (await FaultKit.LockKeysAsync(redis, _prefix)).Count == 0, ExecutionTimeout + TimeSpan.FromSeconds(10), "no lock outlives its TTL");
        foreach (var client in clients)
        {
            Assert.Equal(200, (await FaultKit.SendAsync(client, HttpMethod.Post, "/set?key=after&value=1")).Status);
        }

        await FaultKit.Until(() => coordinator.ActiveSessions == 0, TimeSpan.FromSeconds(10), "the coordinator forgot every session");
        Assert.Contains(TestLog.Events, e => e.Id.Name == "StoreFailed");
        Assert.Contains(TestLog.Events, e => e.Id.Name == "WriteBackFailed");
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    private sealed record Arrival(string Kind, int Session, TimeSpan SentAt, TimeSpan DoneAt, FaultKit.Outcome Outcome);
}
