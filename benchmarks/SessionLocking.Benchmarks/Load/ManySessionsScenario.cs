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
    private const int Rounds = 3;
    private const int Read = 0;
    private const int Write = 1;

    /// <param name="garnet">A Garnet server ("host:port") for the two Redis set-ups once more, reported beside Redis; null: not run.</param>
    public static async Task RunAsync(ResultSink sink, string? redis, string? garnet, TimeSpan duration)
    {
        var variants = new List<AppVariant>
        {
            new("no session (baseline)", SessionKind.None),
            new("ASP.NET Core session (`AddSession` + `AddDistributedMemoryCache`)", SessionKind.CoreSession),
            new("SessionLocking, in-memory store", SessionKind.Locked),
        };
        if (redis is not null)
        {
            variants.Add(new AppVariant("ASP.NET Core session on Redis (`AddSession` + `AddStackExchangeRedisCache`)", SessionKind.CoreSessionRedis, redis));
            variants.Add(new AppVariant("SessionLocking, Redis store", SessionKind.Locked, redis));
        }

        if (garnet is not null)
        {
            variants.Add(new AppVariant("ASP.NET Core session on Garnet (`AddSession` + `AddStackExchangeRedisCache`)", SessionKind.CoreSessionRedis, garnet));
            variants.Add(new AppVariant("SessionLocking, Redis store on Garnet", SessionKind.Locked, garnet));
        }

        sink.Line("## 2. Many sessions: 64 clients, each with its own session, mixed `Required` / `ReadOnly`");
        sink.Line();
        sink.Line($"Each of {Clients} clients has its own keep-alive connection and its own session (created first by `POST /init`, which stores a user name and a counter). " +
                  "In a closed loop it sends one `POST /write` (Required: reads the user name and the counter, writes the counter + 1) for every three `GET /read` (ReadOnly: reads both). " +
                  "All set-ups run the very same endpoint code through `HttpContext.Session` (`ISession`: `LoadAsync`, `GetString`, `GetInt32`, `SetInt32`); " +
                  "\"no session\" runs it without touching a session. " +
                  $"The set-ups are measured alternately, {Rounds} rounds of {duration.TotalSeconds / Rounds:0.#} s each after 0.5 s of warm-up.");
        sink.Line();

        var runs = new List<(AppVariant Variant, BenchApp App, RawHttpConnection[] Connections, byte[] Read, byte[] Write)>();
        var servers = new Dictionary<string, Func<Task<TimeSpan>>?>();
        var infoClients = new List<RespClient>();
        var totals = variants.ToDictionary(v => v, _ => new LoadResult(2));
        try
        {
            foreach (var variant in variants)
            {
                if (variant.Redis is { } server && !servers.ContainsKey(server))
                {
                    var info = await RespClient.ConnectAsync(server.Split(':')[0], int.Parse(server.Split(':')[1], CultureInfo.InvariantCulture));
                    infoClients.Add(info);
                    servers[server] = await ServerCpuAsync(info) is null ? null : async () => (await ServerCpuAsync(info))!.Value;
                }

                var app = await BenchApp.StartAsync(variant);
                var connections = await LoadRunner.ConnectAsync(app.Address, Clients);
                foreach (var connection in connections)
                {
                    if (await connection.SendAsync("POST", "/init") != 200 || (variant.Kind != SessionKind.None && connection.Cookie is null))
                    {
                        throw new InvalidOperationException($"{variant.Name}: could not create a session.");
                    }

                    connection.KeepCookies = false;
                }

                runs.Add((variant, app, connections, Array.Empty<byte>(), Array.Empty<byte>()));
            }

            for (var round = 0; round < Rounds; round++)
            {
                foreach (var run in runs)
                {
                    Console.Error.WriteLine($"[2] {run.Variant.Name}: {duration.TotalSeconds / Rounds:0.#} s");
                    var reads = run.Connections.Select(c => c.Build("GET", "/read")).ToArray();
                    var writes = run.Connections.Select(c => c.Build("POST", "/write")).ToArray();
                    var result = await LoadRunner.RunAsync(
                        run.Connections,
                        (c, seq) => seq % 4 == 0 ? new Step(writes[c], Write) : new Step(reads[c], Read),
                        kinds: 2,
                        warmup: TimeSpan.FromSeconds(0.5),
                        duration / Rounds,
                        redisCpu: run.Variant.Redis is null ? null : servers[run.Variant.Redis]);
                    totals[run.Variant].Merge(result);
                }
            }
        }
        finally
        {
            foreach (var run in runs)
            {
                await LoadRunner.DisposeAsync(run.Connections);
                await run.App.DisposeAsync();
            }

            foreach (var info in infoClients)
            {
                await info.DisposeAsync();
            }
        }

        var none = totals[variants[0]];
        var core = totals[variants[1]];
        var rows = variants.Select(v =>
        {
            var r = totals[v];
            return (IReadOnlyList<string>)new[]
            {
                v.Name,
                Fmt.Num(r.Throughput),
                Fmt.Ratio(r.Throughput / none.Throughput),
                v.Kind == SessionKind.None ? "–" : Fmt.Ratio(r.Throughput / core.Throughput),
                Fmt.Ms(r.All.P50), Fmt.Ms(r.All.P99),
                Fmt.Ms(r.ByKind[Read].P50), Fmt.Ms(r.ByKind[Read].P99),
                Fmt.Ms(r.ByKind[Write].P50), Fmt.Ms(r.ByKind[Write].P99),
                $"{r.ProcessCpuPerRequest:0.0} µs",
                r.RedisCpuPerRequest is { } redisPerRequest ? $"{redisPerRequest:0.0} µs" : "–",
                Fmt.Num(r.Errors),
            };
        }).ToList();
        sink.Table(
            new[] { "set-up", "requests/s", "ratio to no session", "ratio to ASP.NET Core session", "p50", "p99", "read p50", "read p99", "write p50", "write p99", "process CPU / request", "Redis CPU / request", "errors" },
            rows);

        var locked = totals[variants[2]];
        var ratio = locked.Throughput / core.Throughput;
        sink.Target(new TargetResult("2. Many sessions", "in-memory locked session ≥ 0.9x ASP.NET Core session throughput", Fmt.Ratio(ratio), ratio >= 0.9));
        if (redis is not null)
        {
            var peer = totals[variants[3]];
            var redisResult = totals[variants[4]];
            var peerRatio = redisResult.Throughput / peer.Throughput;
            var p99Ratio = redisResult.All.P99 / peer.All.P99;
            sink.Target(new TargetResult("2. Many sessions", "Redis store ≥ 1.5x the throughput of ASP.NET Core session on Redis", Fmt.Ratio(peerRatio), peerRatio >= 1.5));
            sink.Target(new TargetResult("2. Many sessions", "Redis store p99 ≤ 0.7x that of ASP.NET Core session on Redis",
                $"{Fmt.Ms(redisResult.All.P99)} vs {Fmt.Ms(peer.All.P99)} = {Fmt.Ratio(p99Ratio)}", p99Ratio <= 0.7));
            sink.Target(new TargetResult("2. Many sessions", "Redis store: ratio to no session (no target)", Fmt.Ratio(redisResult.Throughput / none.Throughput), null, "reported only"));
        }
        else
        {
            sink.Line("Redis rows: not run (no `--redis`).");
            sink.Line();
        }

        if (garnet is not null)
        {
            var garnetPeer = totals[variants[^2]];
            var garnetStore = totals[variants[^1]];
            var garnetRatio = garnetStore.Throughput / garnetPeer.Throughput;
            sink.Target(new TargetResult("2. Many sessions", "Garnet: Redis store vs ASP.NET Core session, both on Garnet (no target)",
                $"{Fmt.Ratio(garnetRatio)} throughput, p99 {Fmt.Ms(garnetStore.All.P99)} vs {Fmt.Ms(garnetPeer.All.P99)} = {Fmt.Ratio(garnetStore.All.P99 / garnetPeer.All.P99)}", null, "reported only"));
        }
        else
        {
            sink.Line("Garnet rows: not run (no `--garnet`).");
            sink.Line();
        }

        var anyErrors = totals.Values.Sum(r => r.Errors);
        if (anyErrors > 0)
        {
            sink.Target(new TargetResult("2. Many sessions", "every request succeeds", $"{anyErrors} errors", false));
        }

        sink.Line("The load driver (a minimal HTTP/1.1 client) runs in the same process on the same cores as the server, and costs the same in every set-up; " +
                  "the ratios therefore understate the server-side differences somewhat. The p50 columns show the added latency directly. " +
                  "A Redis request of SessionLocking costs one store call (reads) or two (writes), each one Lua script; ASP.NET Core's session on Redis " +
                  "costs more round trips per request (scenario 3 counts them) and never locks. Both use StackExchange.Redis (the version the benchmark is built with), " +
                  "and on this machine the client library and Redis compete for the same cores as the server and the load driver. " +
                  "The Garnet rows run the same two Redis set-ups against Microsoft's Garnet (a .NET server, several threads; its \"Redis CPU\" is not reported when its `INFO` has no cpu section); " +
                  "no target is set on them.");
        sink.Line();
        sink.Line("**What limits it.** \"process CPU / request\" is this process's CPU time (server, client library and load driver; `Process.TotalProcessorTime`) " +
                  "during the measured time divided by the requests completed, \"Redis CPU / request\" the Redis server's (`INFO cpu`, user + system). " +
                  "Without Redis both cores are busy, and throughput is the inverse of the CPU a request costs. With Redis a request also waits for its round trips " +
                  "(Redis runs one command at a time, and each reply comes back through the client), so the cores are not always busy and throughput follows " +
                  "the CPU per request less closely. ASP.NET Core's session spends most of its cost in the application: the client's work per round trip " +
                  "(socket calls and thread wake-ups for each command and its reply), four round trips a request. SessionLocking's Redis store makes one or two, " +
                  "each a Lua script that costs Redis more than a plain command (the Redis column) but the application far less than round trips would. " +
                  "Two measures cut the store's cost (docs/redis-protocol.md, docs/configuration.md): the scripts make no call they can do without " +
                  "(`PTTL` answers \"no lock\" where the lock hash needed `HMGET` and `EXISTS`; a load validates the session from the `HGETALL` it returns; " +
                  "a script that has just taken or deleted the lock sets the session's expiry without asking for the lock's), and a connection the store makes " +
                  "reads replies on the .NET thread pool (`SocketManager.ThreadPool`), which saves a thread hop per reply over the client's dedicated pool. " +
                  "The peer runs with the client's defaults, as an application that adds it does.");
        sink.Line();
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
