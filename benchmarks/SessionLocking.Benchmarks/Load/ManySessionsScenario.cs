using System.Globalization;
using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// Scenario 2: 64 concurrent clients, each with its own session, one write (Required) for every three reads
/// (ReadOnly). Baselines: the same app with no session, and ASP.NET Core's own session.
/// </summary>
internal static class ManySessionsScenario
{
    public const int Clients = 64;
    private const int Read = 0;
    private const int Write = 1;
    private const string Scenario = "2. Many sessions";
    private const string NoSession = "no session (baseline)";
    private const string CoreMemory = "ASP.NET Core session (`AddSession` + `AddDistributedMemoryCache`)";
    private const string LockedMemory = "SessionLocking, in-memory store";
    private const string CoreRedis = "ASP.NET Core session on Redis (`AddSession` + `AddStackExchangeRedisCache`)";
    private const string LockedRedis = "SessionLocking, Redis store";
    private const string Floor = "plain Redis floor (`HGETALL` per read, `HGETALL` + `HSET` per write, no lock, no script)";
    private const string CoreGarnet = "ASP.NET Core session on Garnet (`AddSession` + `AddStackExchangeRedisCache`)";
    private const string LockedGarnet = "SessionLocking, Redis store on Garnet";

    /// <summary>How long each set-up runs, unmeasured, before the first round.</summary>
    private static readonly TimeSpan WarmUpPass = TimeSpan.FromSeconds(2);

    /// <summary>The set-ups, in the order they are started (also by the app-host child process).</summary>
    public static List<AppVariant> Variants(string? redis, string? garnet)
    {
        var variants = new List<AppVariant>
        {
            new(NoSession, SessionKind.None),
            new(CoreMemory, SessionKind.CoreSession),
            new(LockedMemory, SessionKind.Locked),
        };
        if (redis is not null)
        {
            variants.Add(new AppVariant(CoreRedis, SessionKind.CoreSessionRedis, redis));
            variants.Add(new AppVariant(LockedRedis, SessionKind.Locked, redis));
            variants.Add(new AppVariant(Floor, SessionKind.PlainRedis, redis));
        }

        if (garnet is not null)
        {
            variants.Add(new AppVariant(CoreGarnet, SessionKind.CoreSessionRedis, garnet));
            variants.Add(new AppVariant(LockedGarnet, SessionKind.Locked, garnet));
        }

        return variants;
    }

    /// <summary>
    /// <c>many-one</c>: one set-up of scenario 2 alone (its index in <see cref="Variants"/>), servers and driver in this
    /// process, for a profiler (perf record this process); prints requests/s and this process's CPU per request.
    /// </summary>
    public static async Task<int> RunOneAsync(string? redis, int setup, TimeSpan duration, bool allocations = false)
    {
        using var sampler = allocations ? new AllocationSampler() : null;
        var variant = Variants(redis, null)[setup];
        await using var app = await BenchApp.StartAsync(variant);
        var connections = await LoadRunner.ConnectAsync(app.Address, Clients);
        foreach (var connection in connections)
        {
            await connection.SendAsync("POST", "/init");
            connection.KeepCookies = false;
        }

        var reads = connections.Select(c => c.Build("GET", "/read")).ToArray();
        var writes = connections.Select(c => c.Build("POST", "/write")).ToArray();
        var warmUp = TimeSpan.FromSeconds(allocations ? 6 : 2);
        _ = sampler is null ? null : Task.Delay(warmUp).ContinueWith(_ => sampler.Sampling = true, TaskScheduler.Default);
        var result = await LoadRunner.RunAsync(connections, (c, seq) => seq % 4 == 0 ? new Step(writes[c], Write) : new Step(reads[c], Read), 2, warmUp, duration);
        if (sampler is not null)
        {
            sampler.Sampling = false;
        }

        Console.WriteLine($"{variant.Name}: {result.Throughput:0} requests/s, process CPU {result.ProcessCpuPerRequest:0.0} µs/request, errors {result.Errors}");
        sampler?.Print(result.Completed);
        await LoadRunner.DisposeAsync(connections);
        return 0;
    }

    /// <param name="garnet">A Garnet server ("host:port") for the two Redis set-ups once more, reported beside Redis; null: not run.</param>
    /// <param name="rounds">How many rounds; each round measures every set-up once, in a rotated order.</param>
    /// <param name="selfPath">This program, to run the servers in a child process (the load driver stays here); null: in this process.</param>
    public static async Task RunAsync(ResultSink sink, string? redis, string? garnet, TimeSpan duration, int rounds, string? selfPath)
    {
        var variants = Variants(redis, garnet);
        var perRound = TimeSpan.FromSeconds(Math.Max(1, duration.TotalSeconds / rounds));
        sink.Line("## 2. Many sessions: 64 clients, each with its own session, mixed `Required` / `ReadOnly`");
        sink.Line();
        sink.Line($"Each of {Clients} clients has its own keep-alive connection and its own session (created first by `POST /init`, which stores a user name and a counter). " +
                  "In a closed loop it sends one `POST /write` (Required: reads the user name and the counter, writes the counter + 1) for every three `GET /read` (ReadOnly: reads both). " +
                  "All session set-ups run the very same endpoint code through `HttpContext.Session` (`ISession`: `LoadAsync`, `GetString`, `GetInt32`, `SetInt32`); " +
                  "\"no session\" runs it without touching a session; the plain-Redis floor runs the same paths on one Redis hash per client (named by a cookie) with plain commands, " +
                  "through StackExchange.Redis with the socket manager the Redis store uses: the cheapest a Redis-backed session can be. " +
                  $"The set-ups are measured alternately: after one unmeasured pass of {WarmUpPass.TotalSeconds:0.#} s over every set-up (so that the first round does not measure code still being compiled), {rounds} rounds, each measuring every set-up for {perRound.TotalSeconds:0.#} s after 0.5 s of warm-up, the order rotated from round to round. " +
                  "Each ratio below is the median of the per-round ratios (both set-ups measured in the same round), with the lowest and highest round in brackets. " +
                  (selfPath is null
                      ? "The servers and the load driver ran in one process (`--in-process true`)."
                      : "The servers ran in a child process of their own (all set-ups in it, each on its own Kestrel port), the load driver (a minimal HTTP/1.1 client) in the benchmark's process; " +
                        "\"server CPU / request\" is the child's CPU time only (the driver's is not in it), but both share the machine's cores."));
        sink.Line();

        await using var host = selfPath is null ? null : await AppHostProcess.StartAsync(selfPath, "many", redis, garnet);
        var runs = new List<(AppVariant Variant, BenchApp? App, RawHttpConnection[] Connections)>();
        var servers = new Dictionary<string, Func<Task<TimeSpan>>?>();
        var infoClients = new List<RespClient>();
        var infoByServer = new Dictionary<string, RespClient>();
        var commands = variants.ToDictionary(v => v, _ => new Dictionary<string, (long Calls, long Usec)>());
        var results = variants.ToDictionary(v => v, _ => new List<LoadResult>());
        try
        {
            for (var v = 0; v < variants.Count; v++)
            {
                var variant = variants[v];
                if (variant.Redis is { } server && !servers.ContainsKey(server))
                {
                    var info = await RespClient.ConnectAsync(server.Split(':')[0], int.Parse(server.Split(':')[1], CultureInfo.InvariantCulture));
                    infoClients.Add(info);
                    infoByServer[server] = info;
                    servers[server] = await ServerCpuAsync(info) is null ? null : async () => (await ServerCpuAsync(info))!.Value;
                }

                var app = host is null ? await BenchApp.StartAsync(variant) : null;
                var connections = await LoadRunner.ConnectAsync(app?.Address ?? host!.Addresses[v], Clients);
                foreach (var connection in connections)
                {
                    if (await connection.SendAsync("POST", "/init") != 200 || (variant.Kind != SessionKind.None && connection.Cookie is null))
                    {
                        throw new InvalidOperationException($"{variant.Name}: could not create a session.");
                    }

                    connection.KeepCookies = false;
                }

                runs.Add((variant, app, connections));
            }

            // One unmeasured pass over every set-up first: the first requests of each set-up run code the runtime has
            // not compiled to its final tier yet (in the app host, where all set-ups share one process, its background
            // compiles also take CPU from whichever set-up runs then), which made the first measured round an outlier.
            foreach (var run in runs)
            {
                Console.Error.WriteLine($"[2] warm-up: {run.Variant.Name}: {WarmUpPass.TotalSeconds:0.#} s");
                var reads = run.Connections.Select(c => c.Build("GET", "/read")).ToArray();
                var writes = run.Connections.Select(c => c.Build("POST", "/write")).ToArray();
                _ = await LoadRunner.RunAsync(run.Connections, (c, seq) => seq % 4 == 0 ? new Step(writes[c], Write) : new Step(reads[c], Read), kinds: 2, warmup: TimeSpan.Zero, WarmUpPass);
            }

            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < runs.Count; k++)
                {
                    var run = runs[(round + k) % runs.Count];
                    Console.Error.WriteLine($"[2] round {round + 1}/{rounds}: {run.Variant.Name}: {perRound.TotalSeconds:0.#} s");
                    var reads = run.Connections.Select(c => c.Build("GET", "/read")).ToArray();
                    var writes = run.Connections.Select(c => c.Build("POST", "/write")).ToArray();
                    var statsBefore = run.Variant.Redis is { } statsServer ? await CommandTimesAsync(infoByServer[statsServer]) : null;
                    var result = await LoadRunner.RunAsync(
                        run.Connections,
                        (c, seq) => seq % 4 == 0 ? new Step(writes[c], Write) : new Step(reads[c], Read),
                        kinds: 2,
                        warmup: TimeSpan.FromSeconds(0.5),
                        perRound,
                        redisCpu: run.Variant.Redis is null ? null : servers[run.Variant.Redis],
                        serverCpu: host is null ? null : host.CpuAsync);
                    results[run.Variant].Add(result);
                    if (statsBefore is not null)
                    {
                        foreach (var (command, (calls, usec)) in await CommandTimesAsync(infoByServer[run.Variant.Redis!]))
                        {
                            var (calls0, usec0) = statsBefore.GetValueOrDefault(command);
                            var (sumCalls, sumUsec) = commands[run.Variant].GetValueOrDefault(command);
                            commands[run.Variant][command] = (sumCalls + calls - calls0, sumUsec + usec - usec0);
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var run in runs)
            {
                await LoadRunner.DisposeAsync(run.Connections);
                if (run.App is not null)
                {
                    await run.App.DisposeAsync();
                }
            }

            foreach (var info in infoClients)
            {
                await info.DisposeAsync();
            }
        }

        var totals = variants.ToDictionary(v => v, v =>
        {
            var total = new LoadResult(2);
            foreach (var r in results[v])
            {
                total.Merge(r);
            }

            return total;
        });
        AppVariant Named(string name) => variants.Single(v => v.Name == name);
        RoundRatios Throughput(string a, string b) => RoundRatios.Of(results[Named(a)].Zip(results[Named(b)], (x, y) => x.Throughput / y.Throughput));
        RoundRatios P99(string a, string b) => RoundRatios.Of(results[Named(a)].Zip(results[Named(b)], (x, y) => x.All.P99 / y.All.P99));

        var rows = variants.Select(v =>
        {
            var r = totals[v];
            return (IReadOnlyList<string>)new[]
            {
                v.Name,
                Fmt.Num(r.Throughput),
                Throughput(v.Name, NoSession).ToString(),
                v.Kind is SessionKind.None or SessionKind.PlainRedis ? "–" : Throughput(v.Name, v.Redis == garnet && garnet is not null ? CoreGarnet : v.Redis is null ? CoreMemory : CoreRedis).ToString(),
                Fmt.Ms(r.All.P50), Fmt.Ms(r.All.P99),
                Fmt.Ms(r.ByKind[Read].P50), Fmt.Ms(r.ByKind[Read].P99),
                Fmt.Ms(r.ByKind[Write].P50), Fmt.Ms(r.ByKind[Write].P99),
                $"{r.ProcessCpuPerRequest:0.0} µs",
                r.RedisCpuPerRequest is { } redisPerRequest ? $"{redisPerRequest:0.0} µs" : "–",
                Fmt.Num(r.Errors),
            };
        }).ToList();
        sink.Table(
            new[] { "set-up", "requests/s (all rounds)", "ratio to no session: median (min–max)", "ratio to ASP.NET Core session on the same store: median (min–max)", "p50", "p99", "read p50", "read p99", "write p50", "write p99", selfPath is null ? "process CPU / request" : "server CPU / request", "Redis CPU / request", "errors" },
            rows);

        var inMemory = Throughput(LockedMemory, CoreMemory);
        sink.Target(new TargetResult(Scenario, "in-memory locked session ≥ 0.9x ASP.NET Core session throughput (median of rounds)", inMemory.ToString(), inMemory.Median >= 0.9));
        if (redis is not null)
        {
            var peer = Throughput(LockedRedis, CoreRedis);
            var p99 = P99(LockedRedis, CoreRedis);
            var floor = Throughput(LockedRedis, Floor);
            var memory = Throughput(LockedRedis, LockedMemory);
            sink.Target(new TargetResult(Scenario, "Redis store / ASP.NET Core session on Redis, throughput: median ≥ 2.0x, every round ≥ 1.5x", peer.ToString(), peer.Median >= 2.0 && peer.Min >= 1.5));
            sink.Target(new TargetResult(Scenario, "Redis store p99 / ASP.NET Core session on Redis p99 ≤ 0.5x (median of rounds)",
                $"{p99} ({Fmt.Ms(totals[Named(LockedRedis)].All.P99)} vs {Fmt.Ms(totals[Named(CoreRedis)].All.P99)} over all rounds)", p99.Median <= 0.5));
            sink.Target(new TargetResult(Scenario, "Redis store / plain-Redis floor, throughput ≥ 0.9x (median and every round)", floor.ToString(), floor.Median >= 0.9 && floor.Min >= 0.9));
            sink.Target(new TargetResult(Scenario, "Redis store / in-memory store, throughput ≥ 0.6x (median and every round)", memory.ToString(), memory.Median >= 0.6 && memory.Min >= 0.6));
            sink.Target(new TargetResult(Scenario, "Redis store: ratio to no session (no target)", Throughput(LockedRedis, NoSession).ToString(), null, "reported only"));
        }
        else
        {
            sink.Line("Redis rows: not run (no `--redis`).");
            sink.Line();
        }

        if (garnet is not null)
        {
            var garnetRatio = Throughput(LockedGarnet, CoreGarnet);
            sink.Target(new TargetResult(Scenario, "Garnet: Redis store vs ASP.NET Core session, both on Garnet (no target)",
                $"{garnetRatio} throughput, p99 {P99(LockedGarnet, CoreGarnet)}", null, "reported only"));
        }
        else
        {
            sink.Line("Garnet rows: not run (no `--garnet`).");
            sink.Line();
        }

        var anyErrors = totals.Values.Sum(r => r.Errors);
        if (anyErrors > 0)
        {
            sink.Target(new TargetResult(Scenario, "every request succeeds", $"{anyErrors} errors", false));
        }

        sink.Line("**Redis time per command** (`INFO commandstats` around each set-up's runs, warm-up included; commands run inside scripts are listed too, and their time is part of the script's): " +
                  "what each Redis set-up asks of Redis, in µs per call.");
        sink.Line();
        sink.Table(
            new[] { "set-up", "commands: calls, µs per call" },
            variants.Where(v => commands[v].Count > 0).Select(v => (IReadOnlyList<string>)new[]
            {
                v.Name,
                string.Join(", ", commands[v].Where(c => c.Value.Calls > 0 && c.Key is not ("info" or "ping" or "echo")).OrderByDescending(c => c.Value.Usec)
                    .Select(c => $"{c.Key.ToUpperInvariant()} {Fmt.Num(c.Value.Calls)}, {c.Value.Usec / (double)c.Value.Calls:0.00} µs")),
            }));
        sink.Line("**Per round** (requests/s of each set-up in each round, in the order measured):");
        sink.Line();
        sink.Table(
            new[] { "set-up" }.Concat(Enumerable.Range(1, rounds).Select(r => "round " + r)).ToArray(),
            variants.Select(v => (IReadOnlyList<string>)new[] { v.Name }.Concat(results[v].Select(r => Fmt.Num(r.Throughput))).ToArray()));

        sink.Line("The p50 columns show the added latency directly. " +
                  "A Redis request of SessionLocking costs one store call (reads) or two (writes), each one Lua script; ASP.NET Core's session on Redis " +
                  "costs more round trips per request (scenario 3 counts them) and never locks. All Redis set-ups use StackExchange.Redis (the version the benchmark is built with), " +
                  "and on this machine the client library and Redis compete for the same cores as the server and the load driver. " +
                  "The Garnet rows run the same two Redis set-ups against Microsoft's Garnet (a .NET server, several threads; its \"Redis CPU\" is not reported when its `INFO` has no cpu section); " +
                  "no target is set on them.");
        sink.Line();
        sink.Line("**What limits it.** \"server CPU / request\" is the server process's CPU time (servers and client library; `Process.TotalProcessorTime` of the app-host child) " +
                  "during the measured time divided by the requests completed, \"Redis CPU / request\" the Redis server's (`INFO cpu`, user + system). " +
                  "With Redis a request also waits for its round trips (Redis runs one command at a time, and each reply comes back through the client), so the cores are not always busy and throughput follows " +
                  "the CPU per request less closely. ASP.NET Core's session spends most of its cost in the application: the client's work per round trip " +
                  "(socket calls and thread wake-ups for each command and its reply), four round trips a request. SessionLocking's Redis store makes one or two, " +
                  "each a Lua script that costs Redis more than a plain command (the Redis column) but the application far less than round trips would; " +
                  "the floor makes one or two plain commands. Loads of a session the server already holds in its current version carry no items (cached loads, `SessionCacheSize`). " +
                  "The peer runs with the client's defaults, as an application that adds it does.");
        sink.Line();
        sink.Line("**Where the Redis store's cost goes (issue 23; profiled on this machine, the figures from the runs named here).** " +
                  "*Redis:* a store script costs Redis about 10 µs per call (`EVALSHA` in the per-command table) against 0.3–0.5 µs for a plain `HGETALL` or `HSET`. " +
                  "The read-only load alone (`redis-benchmark`, 8 connections, this server's cached version current) costs 5.8 µs per call, against 3.8 µs for a script that makes " +
                  "the same three `redis.call`s and nothing else: a script's fixed cost (entering it, building each command, converting each reply into Lua values) is most of it. " +
                  "So Redis spends about 13 µs per request of this mix for the store and 2 µs for the floor. Taking the lock and loading in one round trip, atomically, needs a script; " +
                  "plain commands pipelined instead would move the cost into the client (below: a command costs the client about 6 µs). " +
                  "*Application:* `SessionLocking.Benchmarks.dll store-cpu --redis HOST:PORT --mode read|raw-read|hgetall` (32 workers, client CPU per call): the store's read-only load 10.4–12.6 µs, " +
                  "a bare `EVALSHA` of the same script on the same client settings 8.1–9.3 µs, a plain `HGETALL` 5.6–6.0 µs. SessionLocking's own code therefore adds 2–3 µs to a store call, " +
                  "and the script call itself about 3 µs more than a plain command (a larger command and reply). The middleware around the store (lock coordinator, session, cookie) adds about 4–5 µs " +
                  "per request (the in-memory store's row against no session). `perf record -g` of `many-one --setup 4` and `--setup 5` (the floor; servers and driver in one process): " +
                  "SessionLocking's assemblies hold about 5 % of the samples, the kernel 54 % (71 % for the floor, which does less else): per request, sends cost both about the same, " +
                  "but idle thread-pool workers spinning in `sched_yield` cost 6.7 µs for the store against 0.8 µs for the floor, and `epoll` 6.3 against 4.1 µs. " +
                  "*Changes of issue 23, each with its own A/B (alternating runs, quiet machine unless said):* " +
                  "(1) the store circuit breaker of our own instead of Polly's (Polly ran each store call through six `async` layers): `many-one --setup 4` with the breaker on and off before the change, " +
                  "17,411 and 17,313 against 20,195 and 19,481 requests/s (+14 %, busy machine); " +
                  "(2) with (1), fewer `async` layers per store call (the script runner awaits its time limit itself, the coordinator and the middleware await the store's first answer directly, " +
                  "the instrumentation times loads and write-backs inline): three pairs of `many-one --setup 4`, median 15,967 → 18,872 requests/s, process CPU 85.6 → 69.7 µs per request, " +
                  "allocations 11.1 → 8.5 KB per request (`many-one --allocations true`); " +
                  "(3) Lua helpers a script never calls are no longer composed into it (Lua builds every `local function` as a closure on each call), the write-back sets metadata and items in one `HSET`, " +
                  "a stale cached load reads its version once: the read-only load 7.01 → 6.64 µs per call in Redis, the write path's Redis CPU 26.45 → 24.85 µs per acquire + write-back (`store-cpu`); " +
                  "(4) without an `OnSessionEnd` handler the request scripts are composed without the Session_End helpers: the read-only load 6.41 → 5.80 µs per call. " +
                  "All together, this scenario run back to back on 8cb252b (before) and on the commit above: 22,856 → 26,914 requests/s, ratio to the peer 1.29x → 1.42x, p99 ratio 0.80x → 0.69x, " +
                  "ratio to the floor 0.54x → 0.56x, to the in-memory store 0.42x → 0.46x, server CPU 43.0 → 37.7 µs and Redis CPU 14.4 → 12.9 µs per request. " +
                  "*Tried without a difference between set-ups:* no thread-pool spinning (`DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0`) cut CPU per request by 8–10 % for the store and the floor alike " +
                  "(and is an application's setting, not a library's). " +
                  "*Why the throughput targets are still missed:* on these 2 cores the store's request costs about 38 µs of server CPU and 13 µs of Redis CPU, the floor's 23 µs and 2 µs; " +
                  "closing that would take Redis's cost of a script near a plain command's and the client's cost of a script call near a plain call's, which a script cannot be. " +
                  "What is left in SessionLocking's own code per request (2–3 µs per store call, 4–5 µs of middleware) would not close it either.");
        sink.Line();
    }

    /// <summary>INFO commandstats as command → (calls, µs), or empty when the server does not report it.</summary>
    private static async Task<Dictionary<string, (long Calls, long Usec)>> CommandTimesAsync(RespClient info)
    {
        var result = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        Dictionary<string, string> stats;
        try
        {
            stats = await info.InfoAsync("commandstats");
        }
        catch (InvalidOperationException)
        {
            return result;
        }

        foreach (var (name, value) in stats)
        {
            if (!name.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                continue;
            }

            var parts = value.Split(',').Select(p => p.Split('=')).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
            if (parts.TryGetValue("calls", out var calls) && parts.TryGetValue("usec", out var usec))
            {
                result[name["cmdstat_".Length..]] = (long.Parse(calls, CultureInfo.InvariantCulture), long.Parse(usec, CultureInfo.InvariantCulture));
            }
        }

        return result;
    }

    /// <summary>The server's CPU time so far (INFO cpu, user + system), or null when it does not report it.</summary>
    private static async Task<TimeSpan?> ServerCpuAsync(RespClient info)
    {
        Dictionary<string, string> cpu;
        try
        {
            cpu = await info.InfoAsync("cpu");
        }
        catch (InvalidOperationException)
        {
            return null; // Garnet: "ERR Invalid section cpu".
        }

        return cpu.TryGetValue("used_cpu_user", out var user) && cpu.TryGetValue("used_cpu_sys", out var sys)
            && double.TryParse(user, CultureInfo.InvariantCulture, out var userSeconds) && double.TryParse(sys, CultureInfo.InvariantCulture, out var sysSeconds)
            ? TimeSpan.FromSeconds(userSeconds + sysSeconds)
            : null;
    }
}
