using SessionLocking.Benchmarks.Infrastructure;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// Scenario 1: 8 concurrent clients hammer one session with Required requests that do nearly no work (read an
/// int, write it + 1). Baseline: the same store in the library's classic polling mode (UseReleaseNotifications = false).
/// </summary>
internal static class HotSessionScenario
{
    public const int Clients = 8;
    private const int Rounds = 2;

    /// <param name="garnet">A Garnet server ("host:port"): the Redis store runs on it too, reported beside Redis; null: not run.</param>
    public static async Task RunAsync(ResultSink sink, string? redis, string? garnet, TimeSpan duration)
    {
        var stores = new List<(string Store, string? Redis)> { ("in-memory", null) };
        if (redis is not null)
        {
            stores.Add(("Redis", redis));
        }

        if (garnet is not null)
        {
            stores.Add(("Redis store on Garnet", garnet));
        }

        sink.Line("## 1. Hot session: 8 clients, one session, `Required` requests that do nearly no work");
        sink.Line();
        sink.Line($"Each of {Clients} clients (own keep-alive connection, same session cookie) sends `POST /hot` in a closed loop: the endpoint reads an int from the session (object API), " +
                  "writes it back + 1 and answers, so every request writes back. Per store, two set-ups run in the same process: wake-on-release (the default) and the classic polling mode " +
                  "(`UseReleaseNotifications = false`: waiters ask the store every 500 ms), which is the baseline of the ratio. " +
                  $"They are measured alternately, {Rounds} rounds of {duration.TotalSeconds / Rounds:0.#} s each after 0.5 s of warm-up, so machine noise hits both alike.");
        sink.Line();
        sink.Line("**Release-to-start gap**, measured on the server: the endpoint takes a `Stopwatch` timestamp when it starts and another after it has written its response. " +
                  "Requests of one session never overlap (checked: \"overlaps\" must be 0), so for consecutive requests the next start minus the previous end is the hand-over: " +
                  "the previous request's write-back-and-release store call, waking the next waiter, its acquire-and-load store call and the middleware up to the endpoint. " +
                  "\"gaps > 100 ms\" counts hand-overs that took longer than 100 ms: a waiter that slept until its 500 ms poll (or, rarely, the machine pausing the process). " +
                  "Requests/s counts responses completed during the measured time; client latency is the client's send-to-last-byte time of those requests, waiting included.");
        sink.Line();

        var rows = new List<string[]>();
        foreach (var (store, redisAddress) in stores)
        {
            var classic = new Measurement(new AppVariant($"{store}, classic polling", SessionKind.Locked, redisAddress, Notifications: false));
            var woken = new Measurement(new AppVariant($"{store}, wake on release", SessionKind.Locked, redisAddress, Notifications: true));
            await using (var classicRun = await HotRun.StartAsync(classic.Variant))
            await using (var wokenRun = await HotRun.StartAsync(woken.Variant))
            {
                for (var round = 0; round < Rounds; round++)
                {
                    await classicRun.MeasureAsync(classic, duration / Rounds);
                    await wokenRun.MeasureAsync(woken, duration / Rounds);
                }

                await classicRun.CheckAsync(classic);
                await wokenRun.CheckAsync(woken);
            }

            foreach (var m in new[] { classic, woken })
            {
                rows.Add(new[]
                {
                    m.Variant.Name + (m == classic ? " (baseline)" : string.Empty),
                    Fmt.Num(m.Throughput, "N1"),
                    Fmt.Ratio(m.Throughput / classic.Throughput),
                    Fmt.Ms(m.Gaps.P50), Fmt.Ms(m.Gaps.P99), Fmt.Ms(m.Gaps.Percentile(100)),
                    Fmt.Ms(m.Client.P50), Fmt.Ms(m.Client.P99),
                    Fmt.Num(m.Completed), Fmt.Num(m.Stalls), Fmt.Num(m.Errors), Fmt.Num(m.Overlaps), Fmt.Num(m.LostUpdates),
                });
            }

            var ratio = woken.Throughput / classic.Throughput;
            sink.Target(redisAddress == garnet && garnet is not null
                ? new TargetResult("1. Hot session", $"{store}: throughput vs classic polling (no target)", Fmt.Ratio(ratio), null, "reported only")
                : new TargetResult("1. Hot session", $"{store}: throughput ≥ 100x classic polling", Fmt.Ratio(ratio), ratio >= 100));
            if (redisAddress is not null && redisAddress != garnet)
            {
                sink.Target(new TargetResult("1. Hot session", "Redis, cached loads on (the default): throughput ≥ 1,000x classic polling", Fmt.Ratio(ratio), ratio >= 1000));
            }

            sink.Target(redisAddress is null || redisAddress == garnet
                ? new TargetResult("1. Hot session", $"{store}: release-to-start gap p50 (no target)", Fmt.Ms(woken.Gaps.P50), null, "reported only")
                : new TargetResult("1. Hot session", "Redis: release-to-start gap p50 < 1 ms", Fmt.Ms(woken.Gaps.P50), woken.Gaps.P50 < 1.0));
            var exclusive = woken.Overlaps == 0 && woken.LostUpdates == 0 && classic.Overlaps == 0 && classic.LostUpdates == 0
                && woken.Errors == 0 && classic.Errors == 0;
            sink.Target(new TargetResult("1. Hot session", $"{store}: every request succeeds, no overlap, no lost update", exclusive ? "yes" : "NO", exclusive));
        }

        if (redis is not null)
        {
            // The fair peer: ASP.NET Core's own session on the same Redis. It never locks, so requests overlap and
            // updates are lost; its throughput is not comparable as such (it does not do the same job).
            var peer = new Measurement(new AppVariant("ASP.NET Core session on Redis (no lock)", SessionKind.CoreSessionRedis, redis));
            await using (var peerRun = await HotRun.StartAsync(peer.Variant))
            {
                for (var round = 0; round < Rounds; round++)
                {
                    await peerRun.MeasureAsync(peer, duration / Rounds);
                }

                await peerRun.CheckAsync(peer);
            }

            rows.Add(new[]
            {
                peer.Variant.Name,
                Fmt.Num(peer.Throughput, "N1"),
                "–",
                "–", "–", "–",
                Fmt.Ms(peer.Client.P50), Fmt.Ms(peer.Client.P99),
                Fmt.Num(peer.Completed), "–", Fmt.Num(peer.Errors), Fmt.Num(peer.Overlaps), Fmt.Num(peer.LostUpdates),
            });
            var lostShare = peer.LostUpdates / (double)Math.Max(1, peer.LostUpdates + peer.Counter);
            sink.Target(new TargetResult("1. Hot session", "ASP.NET Core session on Redis: updates lost (reported; it does not lock)",
                $"{Fmt.Num(peer.LostUpdates)} of {Fmt.Num(peer.LostUpdates + peer.Counter)} ({lostShare.ToString("P0", System.Globalization.CultureInfo.InvariantCulture)})", null, "reported only"));
        }
        else
        {
            sink.Line("Redis rows: not run (no `--redis`).");
            sink.Line();
        }

        sink.Table(
            new[] { "store, mode", "requests/s", "ratio to classic", "gap p50", "gap p99", "longest gap", "client p50", "client p99", "requests", "gaps > 100 ms", "errors", "overlaps", "lost updates" },
            rows);
        sink.Line("\"lost updates\": the number of requests whose endpoint ran (all phases) minus the session's counter at the end; it must be 0 for SessionLocking. " +
                  "ASP.NET Core's session does not lock: concurrent requests of one session read the same value and the last to be stored wins, so it loses updates, " +
                  "and its \"overlaps\" count requests whose endpoint ran while another one's did. Its gap columns are empty: without a lock there is no hand-over. " +
                  "In wake-on-release mode no hand-over waits for a poll: the releasing request wakes the next waiter. An occasional long gap there " +
                  "(\"longest gap\") is the process being paused on a busy machine; during development a trace in the coordinator showed no poll time-out in that mode over 14 runs.");
        sink.Line();
    }

    /// <summary>What one set-up measured, summed over the rounds.</summary>
    private sealed class Measurement
    {
        public Measurement(AppVariant variant) => Variant = variant;

        public AppVariant Variant { get; }

        public long Completed { get; set; }

        public long Errors { get; set; }

        public TimeSpan Elapsed { get; set; }

        public double Throughput => Completed / Elapsed.TotalSeconds;

        public Latencies Gaps { get; } = new();

        public Latencies Client { get; } = new();

        public int Overlaps { get; set; }

        public int Stalls { get; set; }

        public long LostUpdates { get; set; }

        public long Counter { get; set; }
    }

    /// <summary>One running app with its session and client connections, measured in rounds.</summary>
    private sealed class HotRun : IAsyncDisposable
    {
        private readonly BenchApp _app;
        private readonly RawHttpConnection _first;
        private readonly RawHttpConnection[] _connections;
        private readonly byte[] _request;

        private HotRun(BenchApp app, RawHttpConnection first, RawHttpConnection[] connections)
        {
            _app = app;
            _first = first;
            _connections = connections;
            _request = connections[0].Build("POST", "/hot");
        }

        public static async Task<HotRun> StartAsync(AppVariant variant)
        {
            var app = await BenchApp.StartAsync(variant);
            var first = await RawHttpConnection.ConnectAsync(app.Address);
            var status = await first.SendAsync("POST", "/hot");
            if (status != 200 || first.Cookie is null)
            {
                throw new InvalidOperationException($"Could not create the hot session ({status}).");
            }

            var connections = await LoadRunner.ConnectAsync(app.Address, Clients, first.Cookie);
            return new HotRun(app, first, connections);
        }

        public async Task MeasureAsync(Measurement m, TimeSpan duration)
        {
            Console.Error.WriteLine($"[1] {m.Variant.Name}: {duration.TotalSeconds:0.#} s");
            var recorder = _app.Recorder;
            var result = await LoadRunner.RunAsync(
                _connections,
                (_, _) => new Step(_request, 0),
                kinds: 1,
                warmup: TimeSpan.FromSeconds(0.5),
                duration,
                measuring =>
                {
                    if (measuring)
                    {
                        recorder.Start();
                    }
                    else
                    {
                        recorder.Stop();
                    }
                });

            m.Completed += result.Completed;
            m.Errors += result.Errors;
            m.Elapsed += result.Elapsed;
            m.Client.AddRange(result.ByKindTicks[0]);
            var pairs = recorder.Snapshot();
            var stall = System.Diagnostics.Stopwatch.Frequency / 10;
            for (var i = 1; i < pairs.Length; i++)
            {
                var gap = pairs[i].Start - pairs[i - 1].End;
                if (gap < 0)
                {
                    m.Overlaps++;
                    continue;
                }

                m.Gaps.Add(gap);
                if (gap > stall)
                {
                    if (Environment.GetEnvironmentVariable("BENCH_DEBUG") is not null)
                    {
                        Console.Error.WriteLine($"  stall {gap * 1000.0 / System.Diagnostics.Stopwatch.Frequency:0.0} ms at {i}/{pairs.Length}");
                    }

                    m.Stalls++;
                }
            }
        }

        /// <summary>Reads the counter: every request whose endpoint ran must have incremented it exactly once.</summary>
        public async Task CheckAsync(Measurement m)
        {
            _first.CaptureBody = true;
            if (await _first.SendAsync("GET", "/hot/count") != 200)
            {
                throw new InvalidOperationException("Could not read the hot session's counter.");
            }

            var counter = long.Parse(_first.LastBody, System.Globalization.CultureInfo.InvariantCulture);
            m.Counter = counter;
            m.LostUpdates = _app.Recorder.Total - counter;
        }

        public async ValueTask DisposeAsync()
        {
            await LoadRunner.DisposeAsync(_connections);
            await _first.DisposeAsync();
            await _app.DisposeAsync();
        }
    }
}
