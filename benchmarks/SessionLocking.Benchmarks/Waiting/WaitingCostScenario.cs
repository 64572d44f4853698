using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.Benchmarks.Load;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Stores;

namespace SessionLocking.Benchmarks.Waiting;

/// <summary>
/// Scenario 4: 10,000 requests waiting on one locked session hold no thread each. Measured at the coordinator
/// (10,000 AcquireAsync calls while one holder holds) against a bare awaited TaskCompletionSource, and over
/// real HTTP (10,000 keep-alive connections from a child process) against requests that wait on a gate with no session.
/// </summary>
internal static class WaitingCostScenario
{
    public const int Waiters = 10_000;

    public static async Task RunAsync(ResultSink sink, string selfPath)
    {
        sink.Line("## 4. Waiting cost: 10,000 requests waiting on one locked session");
        sink.Line();
        sink.Line($"Memory is the managed heap after a full blocking GC (`GC.GetTotalMemory(true)`), before and while {Waiters:N0} waiters wait, divided by {Waiters:N0}. " +
                  "Threads are `ThreadPool.ThreadCount` and the process's OS threads, before and while they wait. " +
                  "Then the holder releases and the time for all waiters to get the lock one after another (each releases it at once) is measured.");
        sink.Line();

        var rows = new List<IReadOnlyList<string>>();
        var bare = await BareAwaitersAsync();
        var coordinator = await CoordinatorWaitersAsync();
        rows.Add(Row("bare `await tcs.Task` per waiter (baseline)", bare, bare));
        rows.Add(Row("`SessionLockCoordinator.AcquireAsync` (Required), in-memory store", coordinator, bare));

        HttpMeasurement? gate = null;
        HttpMeasurement? locked = null;
        string? httpNote = null;
        try
        {
            gate = await HttpWaitersAsync(selfPath, "/wait-gate", withSession: false);
            locked = await HttpWaitersAsync(selfPath, "/wait", withSession: true);
            rows.Add(Row("HTTP: request waiting on a gate, no session (baseline)", gate, gate));
            rows.Add(Row("HTTP: `Required` request waiting for the session lock", locked, gate));
        }
        catch (Exception ex)
        {
            httpNote = $"HTTP measurement failed: {ex.GetType().Name}: {ex.Message}";
            Console.Error.WriteLine(ex);
        }

        sink.Table(
            new[] { "waiters", "heap before", "heap while waiting", "per waiter", "ratio to baseline", "pool threads before → while", "OS threads before → while", "drain time", "hand-overs/s" },
            rows);
        if (httpNote is not null)
        {
            sink.Line(httpNote);
            sink.Line();
        }

        sink.Line("The HTTP rows: the server runs in this process, the 10,000 clients in a child process (one keep-alive connection each, so both stay under `ulimit -n`); " +
                  "the heap is the server's only. The per-waiter figure of an HTTP request includes Kestrel's own per-connection and per-request state, which the no-session baseline shows alone; " +
                  "the difference between the two rows is what waiting for the session lock adds. The drain time of the HTTP rows includes sending the 10,000 responses. " +
                  "The thread pool may grow by a few threads while 10,000 connections are accepted (the baseline shows it too); the session row is measured after it, so its growth is that of waiting alone.");
        sink.Line();

        var threadsOk = coordinator.PoolThreadsWhile - coordinator.PoolThreadsBefore <= 2
                        && (locked is null || locked.PoolThreadsWhile - locked.PoolThreadsBefore <= 2);
        sink.Target(new TargetResult("4. Waiting cost", "10,000 waiters hold no thread each (thread-pool growth ≤ 2)",
            $"coordinator {coordinator.PoolThreadsBefore} → {coordinator.PoolThreadsWhile}" + (locked is null ? string.Empty : $", HTTP {locked.PoolThreadsBefore} → {locked.PoolThreadsWhile}"), threadsOk));
        sink.Target(new TargetResult("4. Waiting cost", "memory per waiter (coordinator; no target)", $"{Fmt.Bytes(coordinator.PerWaiter)} ({Fmt.Ratio(coordinator.PerWaiter / bare.PerWaiter)} a bare await)", null, "reported only"));
        if (locked is not null && gate is not null)
        {
            sink.Target(new TargetResult("4. Waiting cost", "memory per waiting HTTP request (no target)", $"{Fmt.Bytes(locked.PerWaiter)} ({Fmt.Bytes(locked.PerWaiter - gate.PerWaiter)} more than no session)", null, "reported only"));
        }
    }

    private static IReadOnlyList<string> Row(string name, Measurement m, Measurement baseline) => new[]
    {
        name,
        Fmt.Bytes(m.HeapBefore),
        Fmt.Bytes(m.HeapWhile),
        Fmt.Bytes(m.PerWaiter),
        Fmt.Ratio(m.PerWaiter / baseline.PerWaiter),
        $"{m.PoolThreadsBefore} → {m.PoolThreadsWhile}",
        $"{m.OsThreadsBefore} → {m.OsThreadsWhile}",
        Fmt.Ms(m.Drain.TotalMilliseconds),
        Fmt.Num(Waiters / m.Drain.TotalSeconds),
    };

    private class Measurement
    {
        public long HeapBefore { get; set; }

        public long HeapWhile { get; set; }

        public double PerWaiter => (HeapWhile - HeapBefore) / (double)Waiters;

        public int PoolThreadsBefore { get; set; }

        public int PoolThreadsWhile { get; set; }

        public int OsThreadsBefore { get; set; }

        public int OsThreadsWhile { get; set; }

        public TimeSpan Drain { get; set; }
    }

    private sealed class HttpMeasurement : Measurement;

    private static void Before(Measurement m)
    {
        m.HeapBefore = GC.GetTotalMemory(forceFullCollection: true);
        m.PoolThreadsBefore = ThreadPool.ThreadCount;
        m.OsThreadsBefore = OsThreads();
    }

    private static void While(Measurement m)
    {
        m.HeapWhile = GC.GetTotalMemory(forceFullCollection: true);
        m.PoolThreadsWhile = ThreadPool.ThreadCount;
        m.OsThreadsWhile = OsThreads();
    }

    private static int OsThreads()
    {
        using var process = Process.GetCurrentProcess();
        return process.Threads.Count;
    }

    private static async Task<Measurement> BareAwaitersAsync()
    {
        Console.Error.WriteLine("[4] bare awaiters");
        var m = new Measurement();
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var done = 0;
        async Task WaitOne()
        {
            await tcs.Task.ConfigureAwait(false);
            Interlocked.Increment(ref done);
        }

        // Warm up the code path once.
        var warm = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var warmTask = Task.Run(async () => await warm.Task);
        warm.SetResult();
        await warmTask;

        Before(m);
        var tasks = new Task[Waiters];
        for (var i = 0; i < Waiters; i++)
        {
            tasks[i] = WaitOne();
        }

        While(m);
        var watch = Stopwatch.StartNew();
        tcs.SetResult();
        await Task.WhenAll(tasks);
        m.Drain = watch.Elapsed;
        return m;
    }

    private static async Task<Measurement> CoordinatorWaitersAsync()
    {
        Console.Error.WriteLine("[4] coordinator waiters");
        var m = new Measurement();
        // The coordinator as the middleware gets it, on the in-memory store, without the HTTP around it.
        var services = new ServiceCollection().AddLogging();
        services.AddSingleton<Microsoft.Extensions.Configuration.IConfiguration>(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        services.AddLockedSession(o => o.RequestQueueLimitPerSession = Waiters * 2);
        await using var provider = services.BuildServiceProvider();
        var coordinator = provider.GetRequiredService<SessionLockCoordinator>();
        var sessionId = SessionIds.Create();
        var noChange = new SessionChanges(new Dictionary<string, byte[]>(), Array.Empty<string>(), TimeSpan.FromMinutes(20), isNew: false);

        async Task<bool> OneAsync(bool release)
        {
            var acquisition = await coordinator.AcquireAsync(sessionId, SessionStateBehavior.Required, createIfMissing: true, CancellationToken.None).ConfigureAwait(false);
            if (acquisition.Status != AcquireStatus.Acquired)
            {
                return false;
            }

            if (release)
            {
                // The lock's owner writes back (nothing changed) and releases, which wakes the next waiter.
                await acquisition.CarryOutAsync(ReleasePlan.Write(noChange)).ConfigureAwait(false);
            }

            return true;
        }

        // Store the session and warm up the paths (acquire, wait, release).
        await OneAsync(release: true);
        var warmHolder = await coordinator.AcquireAsync(sessionId, SessionStateBehavior.Required, false, CancellationToken.None);
        var warmWaiter = OneAsync(release: true);
        await warmHolder.CarryOutAsync(ReleasePlan.Release);
        await warmWaiter;

        var holder = await coordinator.AcquireAsync(sessionId, SessionStateBehavior.Required, false, CancellationToken.None);
        Before(m);
        var tasks = new Task<bool>[Waiters];
        for (var i = 0; i < Waiters; i++)
        {
            tasks[i] = OneAsync(release: true);
        }

        while (coordinator.WaitingCount(sessionId) < Waiters)
        {
            await Task.Delay(10);
        }

        While(m);
        var watch = Stopwatch.StartNew();
        await holder.CarryOutAsync(ReleasePlan.Release);
        var results = await Task.WhenAll(tasks);
        m.Drain = watch.Elapsed;
        if (results.Any(r => !r))
        {
            throw new InvalidOperationException("A coordinator waiter did not get the lock.");
        }

        return m;
    }

    private static async Task<HttpMeasurement> HttpWaitersAsync(string selfPath, string path, bool withSession)
    {
        Console.Error.WriteLine($"[4] HTTP waiters on {path}");
        var m = new HttpMeasurement();
        await using var app = await BenchApp.StartAsync(new AppVariant("waiting", SessionKind.Locked)
        {
            Configure = o =>
            {
                o.RequestQueueLimitPerSession = Waiters * 2;
                o.LockWaitTimeout = TimeSpan.FromMinutes(5);
            },
        });
        var coordinator = (SessionLockCoordinator)app.Services.GetService(typeof(SessionLockCoordinator))!;

        // The holder: a Required request of the session that waits on the gate.
        await using var holder = await RawHttpConnection.ConnectAsync(app.Address);
        if (await holder.SendAsync("POST", "/wait") != 200 || holder.Cookie is null)
        {
            throw new InvalidOperationException("Could not create the session.");
        }

        var cookie = holder.Cookie;
        var sessionId = cookie[(cookie.IndexOf('=') + 1)..];

        // Warm up every path once (wait for the lock, wait on the gate) before measuring.
        var gate = app.Gate;
        var holdRequest = holder.Build("POST", "/hold");
        await holder.SendOnlyAsync(holdRequest);
        await WaitUntilAsync(() => gate.Entered == 1);
        await using (var warm = await RawHttpConnection.ConnectAsync(app.Address))
        {
            warm.Cookie = withSession ? cookie : null;
            var pending = warm.SendAsync("POST", path);
            await WaitUntilAsync(() => withSession ? coordinator.WaitingCount(sessionId) == 1 : gate.Entered == 2);
            gate.Open();
            await holder.ReadResponseAsync();
            await pending;
        }

        gate.Reset();
        await holder.SendOnlyAsync(holdRequest);
        await WaitUntilAsync(() => gate.Entered == 1);

        Before(m);
        var client = Process.Start(new ProcessStartInfo("dotnet")
        {
            ArgumentList = { selfPath, "waiting-client", "--url", app.Address.ToString(), "--path", path, "--cookie", withSession ? cookie : "-", "--count", Waiters.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        })!;
        try
        {
            var deadline = Stopwatch.StartNew();
            await WaitUntilAsync(() => withSession ? coordinator.WaitingCount(sessionId) >= Waiters : gate.Entered >= Waiters + 1, TimeSpan.FromSeconds(120));
            await Task.Delay(200); // let the last connections settle
            While(m);
            Console.Error.WriteLine($"[4]   {Waiters:N0} waiting after {deadline.Elapsed.TotalSeconds:0.0} s");

            var watch = Stopwatch.StartNew();
            gate.Open();
            await holder.ReadResponseAsync();
            await client.StandardInput.WriteLineAsync("go");
            var line = await client.StandardOutput.ReadLineAsync();
            m.Drain = watch.Elapsed;
            if (line is null || !line.StartsWith("ok", StringComparison.Ordinal))
            {
                throw new InvalidOperationException("The waiting client failed: " + line);
            }
        }
        finally
        {
            if (!client.HasExited)
            {
                await client.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(30)).Token).ContinueWith(_ => { });
                if (!client.HasExited)
                {
                    client.Kill();
                }
            }

            client.Dispose();
        }

        return m;
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan? timeout = null)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > (timeout ?? TimeSpan.FromSeconds(30)))
            {
                throw new TimeoutException("A waiting-cost step did not happen in time.");
            }

            await Task.Delay(10);
        }
    }

    /// <summary>
    /// The child process: opens <c>count</c> connections, sends one request on each, waits for the parent's "go"
    /// (sent after the gate opened), then reads every response and prints "ok N" when all succeeded.
    /// </summary>
    public static async Task<int> ClientAsync(Args args)
    {
        var address = new Uri(args.Get("url", string.Empty));
        var path = args.Get("path", "/wait");
        var cookie = args.Get("cookie", "-");
        var count = int.Parse(args.Get("count", "10000"), System.Globalization.CultureInfo.InvariantCulture);
        var connections = new RawHttpConnection[count];
        var responses = new Task<int>[count];
        for (var i = 0; i < count; i++)
        {
            connections[i] = await RawHttpConnection.ConnectAsync(address);
            connections[i].KeepCookies = false;
            connections[i].Cookie = cookie == "-" ? null : cookie;
            responses[i] = connections[i].SendAsync("POST", path);
        }

        await Console.In.ReadLineAsync();
        var statuses = await Task.WhenAll(responses);
        var ok = statuses.Count(s => s == 200);
        Console.WriteLine(ok == count ? $"ok {ok}" : $"failed: {count - ok} of {count} did not get 200 ({string.Join(",", statuses.Distinct())})");
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }

        return ok == count ? 0 : 1;
    }

    private sealed class NullMeterFactory : System.Diagnostics.Metrics.IMeterFactory
    {
        private readonly List<System.Diagnostics.Metrics.Meter> _meters = new();

        public System.Diagnostics.Metrics.Meter Create(System.Diagnostics.Metrics.MeterOptions options)
        {
            var meter = new System.Diagnostics.Metrics.Meter(options);
            _meters.Add(meter);
            return meter;
        }

        public void Dispose()
        {
            foreach (var meter in _meters)
            {
                meter.Dispose();
            }
        }
    }
}
