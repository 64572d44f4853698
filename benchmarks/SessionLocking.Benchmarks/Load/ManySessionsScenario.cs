using SessionLocking.Benchmarks.Infrastructure;

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

    public static async Task RunAsync(ResultSink sink, string? redis, TimeSpan duration)
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

        sink.Line("## 2. Many sessions: 64 clients, each with its own session, mixed `Required` / `ReadOnly`");
        sink.Line();
        sink.Line($"Each of {Clients} clients has its own keep-alive connection and its own session (created first by `POST /init`, which stores a user name and a counter). " +
                  "In a closed loop it sends one `POST /write` (Required: reads the user name and the counter, writes the counter + 1) for every three `GET /read` (ReadOnly: reads both). " +
                  "All set-ups run the very same endpoint code through `HttpContext.Session` (`ISession`: `LoadAsync`, `GetString`, `GetInt32`, `SetInt32`); " +
                  "\"no session\" runs it without touching a session. " +
                  $"The set-ups are measured alternately, {Rounds} rounds of {duration.TotalSeconds / Rounds:0.#} s each after 0.5 s of warm-up.");
        sink.Line();

        var runs = new List<(AppVariant Variant, BenchApp App, RawHttpConnection[] Connections, byte[] Read, byte[] Write)>();
        var totals = variants.ToDictionary(v => v, _ => new LoadResult(2));
        try
        {
            foreach (var variant in variants)
            {
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
                        duration / Rounds);
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
                Fmt.Num(r.Errors),
            };
        }).ToList();
        sink.Table(
            new[] { "set-up", "requests/s", "ratio to no session", "ratio to ASP.NET Core session", "p50", "p99", "read p50", "read p99", "write p50", "write p99", "errors" },
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

        var anyErrors = totals.Values.Sum(r => r.Errors);
        if (anyErrors > 0)
        {
            sink.Target(new TargetResult("2. Many sessions", "every request succeeds", $"{anyErrors} errors", false));
        }

        sink.Line("The load driver (a minimal HTTP/1.1 client) runs in the same process on the same cores as the server, and costs the same in every set-up; " +
                  "the ratios therefore understate the server-side differences somewhat. The p50 columns show the added latency directly. " +
                  "A Redis request of SessionLocking costs one store call (reads) or two (writes), each one Lua script; ASP.NET Core's session on Redis " +
                  "costs more round trips per request (scenario 3 counts them) and never locks. Both use StackExchange.Redis (the version the benchmark is built with), " +
                  "and on this machine the client library and Redis compete for the same cores as the server and the load driver.");
        sink.Line();
    }
}
