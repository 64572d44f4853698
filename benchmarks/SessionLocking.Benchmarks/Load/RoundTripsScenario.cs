using System.Globalization;
using System.Text.RegularExpressions;
using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// Scenario 3: Redis commands and bytes per request kind, read from Redis itself: MONITOR for the commands the
/// application's connections send (commands run inside scripts are told apart), INFO stats
/// total_net_input_bytes / total_net_output_bytes for the bytes.
/// </summary>
internal static partial class RoundTripsScenario
{
    private const int BlobCount = 16;
    private const int BlobSize = 64 * 1024;

    private static readonly string[] BackgroundCommands = ["PING"];

    private sealed record Kind(string Name, string Session, string Method, string Path, int Count);

    private const string BigReadTarget = "1 MiB session, unchanged, `ReadOnly` request: bytes from Redis ≤ 1 KiB";
    private const string BigChangeTarget = "1 MiB session, `Required` with one small change: bytes both ways ≤ 2 KiB";

    public static async Task RunAsync(ResultSink sink, string? redis)
    {
        sink.Line("## 3. Redis round trips and bytes per request kind");
        sink.Line();
        if (redis is null)
        {
            const string NotRun = "not run (no --redis)";
            sink.Line($"{NotRun}.");
            sink.Line();
            sink.Target(new TargetResult("3. Round trips and bytes", "writing request: 2 round trips", NotRun, null));
            sink.Target(new TargetResult("3. Round trips and bytes", "read-only request: 1 round trip", NotRun, null));
            sink.Target(new TargetResult("3. Round trips and bytes", "one-key change in a 1 MB session sends < 1% of its size", NotRun, null));
            sink.Target(new TargetResult("3. Round trips and bytes", BigReadTarget, NotRun, null));
            sink.Target(new TargetResult("3. Round trips and bytes", BigChangeTarget, NotRun, null));
            return;
        }

        var endpoint = redis.Split(',')[0];
        var host = endpoint.Split(':')[0];
        var port = int.Parse(endpoint.Split(':')[1], CultureInfo.InvariantCulture);
        var sessionBytes = (long)BlobCount * (BlobSize + 1) + Enumerable.Range(0, BlobCount).Sum(i => ("blob" + i).Length);

        sink.Line("One request at a time on one keep-alive connection, with the Redis store and wake-on-release on. " +
                  "**Commands** are what the application's connections sent, read from Redis `MONITOR` while the requests ran (commands that Lua scripts run inside Redis are listed by MONITOR as `[lua]` and not counted); " +
                  "each command the store awaits is one network round trip. " +
                  "**Bytes** are the differences of Redis `INFO stats` `total_net_input_bytes` (application → Redis) and `total_net_output_bytes` (Redis → application) around the requests, " +
                  "measured in a separate pass without MONITOR, minus the INFO command's own bytes, divided by the number of requests. " +
                  $"The 1 MiB session holds {BlobCount} values of {BlobSize / 1024} KiB ({Fmt.Bytes(sessionBytes)} serialized) plus a small counter; " +
                  "its baseline is a request that rewrites every value (what a provider that writes the whole session sends on every change).");
        sink.Line();

        await using var app = await BenchApp.StartAsync(new AppVariant("Redis", SessionKind.Locked, redis));
        await using var info = await RespClient.ConnectAsync(host, port);
        RawHttpConnection small = await RawHttpConnection.ConnectAsync(app.Address);
        RawHttpConnection big = await RawHttpConnection.ConnectAsync(app.Address);
        RawHttpConnection fresh = await RawHttpConnection.ConnectAsync(app.Address);
        fresh.KeepCookies = false;
        await Expect(small.SendAsync("POST", "/rt/set-one"), "create the small session");
        await Expect(big.SendAsync("POST", $"/rt/fill?count={BlobCount}&size={BlobSize}"), "fill the 1 MiB session");

        var kinds = new[]
        {
            new Kind("`Required`, new session, one key set (first request)", "new", "POST", "/rt/set-one", 20),
            new Kind("`Required`, one key changed", "small", "POST", "/rt/set-one", 20),
            new Kind("`Required`, nothing changed", "small", "GET", "/rt/required-unchanged", 20),
            new Kind("`ReadOnly`", "small", "GET", "/rt/readonly", 20),
            new Kind("1 MiB session: `Required`, whole session rewritten (baseline)", "big", "POST", "/rt/rewrite-all", 5),
            new Kind("1 MiB session: `Required`, one small key changed", "big", "POST", "/rt/set-one", 10),
            new Kind("1 MiB session: `Required`, nothing changed", "big", "GET", "/rt/required-unchanged", 10),
            new Kind("1 MiB session: `ReadOnly`", "big", "GET", "/rt/readonly", 10),
        };

        RawHttpConnection ConnectionOf(Kind kind) => kind.Session switch
        {
            "new" => fresh,
            "small" => small,
            _ => big,
        };

        // Warm up every kind (scripts loaded, code jitted).
        foreach (var kind in kinds)
        {
            await Expect(ConnectionOf(kind).SendAsync(kind.Method, kind.Path), kind.Name);
        }

        var (inOverhead, outOverhead) = await InfoOverheadAsync(info);
        var rows = new List<IReadOnlyList<string>>();
        var measured = new Dictionary<string, (double Commands, double In, double Out, string Detail)>();
        double? baselineIn = null;
        var heartbeats = 0;
        foreach (var kind in kinds)
        {
            Console.Error.WriteLine($"[3] {kind.Name}");
            var connection = ConnectionOf(kind);
            var request = connection.Build(kind.Method, kind.Path);

            // Pass 1: bytes.
            var (in0, out0) = await info.NetBytesAsync();
            for (var i = 0; i < kind.Count; i++)
            {
                await Expect(connection.SendAsync(request), kind.Name);
            }

            var (in1, out1) = await info.NetBytesAsync();
            var bytesIn = (in1 - in0 - inOverhead) / (double)kind.Count;
            var bytesOut = (out1 - out0 - outOverhead) / (double)kind.Count;

            // Pass 2: commands.
            var commands = await CountCommandsAsync(host, port, info, async () =>
            {
                for (var i = 0; i < kind.Count; i++)
                {
                    await Expect(connection.SendAsync(request), kind.Name);
                }
            });

            // The client library's keep-alive PINGs run on their own timer, not per request.
            foreach (var background in BackgroundCommands)
            {
                if (commands.Remove(background, out var n))
                {
                    heartbeats += n;
                }
            }

            var perRequest = commands.Values.Sum() / (double)kind.Count;
            var detail = string.Join(", ", commands.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} ×{Fmt.Num(c.Value / (double)kind.Count, "0.##")}"));
            measured[kind.Name] = (perRequest, bytesIn, bytesOut, detail);
            if (kind.Path == "/rt/rewrite-all")
            {
                baselineIn = bytesIn;
            }

            rows.Add(new[]
            {
                kind.Name,
                Fmt.Num(perRequest, "0.##"),
                detail.Length == 0 ? "–" : detail,
                Fmt.Bytes(bytesIn),
                kind.Session == "big" && baselineIn is { } b ? Fmt.Ratio(bytesIn / b) : "–",
                kind.Session == "big" ? (bytesIn / sessionBytes).ToString("P2", CultureInfo.InvariantCulture) : "–",
                Fmt.Bytes(bytesOut),
            });
        }

        await small.DisposeAsync();
        await big.DisposeAsync();
        await fresh.DisposeAsync();

        sink.Table(new[] { "request kind", "commands (round trips)", "which", "bytes sent to Redis", "ratio to whole rewrite", "share of the 1 MiB session", "bytes from Redis" }, rows);

        var write = measured[kinds[1].Name];
        var readOnly = measured[kinds[3].Name];
        var bigOne = measured[kinds[5].Name];
        sink.Target(new TargetResult("3. Round trips and bytes", "writing request: 2 round trips", Fmt.Num(write.Commands, "0.##") + $" ({write.Detail})", Math.Abs(write.Commands - 2) < 0.01));
        sink.Target(new TargetResult("3. Round trips and bytes", "read-only request: 1 round trip", Fmt.Num(readOnly.Commands, "0.##") + $" ({readOnly.Detail})", Math.Abs(readOnly.Commands - 1) < 0.01));
        var share = bigOne.In / sessionBytes;
        sink.Target(new TargetResult("3. Round trips and bytes", "one-key change in a 1 MB session sends < 1% of its size",
            $"{Fmt.Bytes(bigOne.In)} = {share.ToString("P2", CultureInfo.InvariantCulture)}", share < 0.01));
        var bigRead = measured[kinds[7].Name];
        sink.Target(new TargetResult("3. Round trips and bytes", BigReadTarget, $"{Fmt.Bytes(bigRead.Out)} from Redis ({Fmt.Bytes(bigRead.In)} to it)", bigRead.Out <= 1024));
        sink.Target(new TargetResult("3. Round trips and bytes", BigChangeTarget,
            $"{Fmt.Bytes(bigOne.In + bigOne.Out)} ({Fmt.Bytes(bigOne.In)} to Redis, {Fmt.Bytes(bigOne.Out)} from it)", bigOne.In + bigOne.Out <= 2048));
        sink.Line($"Not counted above: {heartbeats} keep-alive `PING`s the client library sent on its own timer during the MONITOR passes.");
        sink.Line("Bytes from Redis: with cached loads (`SessionCacheSize`, on by default) a load of a session this server already holds in its current version " +
                  "returns no items (the script compares the version the store sends with the session's), so an unchanged 1 MiB session costs a few dozen bytes per request; " +
                  "the first load on a server, and the first after another server changed it, reads it whole. Writes send only the changed items.");
        sink.Line();
        await PeerAsync(sink, redis, host, port, info);
    }

    /// <summary>
    /// The same <c>ISession</c> endpoints of scenario 2 (<c>POST /write</c>, <c>GET /read</c>) on SessionLocking's Redis
    /// store and on ASP.NET Core's session over <c>AddStackExchangeRedisCache</c>, commands counted with MONITOR.
    /// </summary>
    private static async Task PeerAsync(ResultSink sink, string redis, string host, int port, RespClient info)
    {
        const int Count = 20;
        var variants = new[]
        {
            new AppVariant("SessionLocking, Redis store", SessionKind.Locked, redis),
            new AppVariant("ASP.NET Core session on Redis (`AddSession` + `AddStackExchangeRedisCache`)", SessionKind.CoreSessionRedis, redis),
        };
        var rows = new List<IReadOnlyList<string>>();
        foreach (var variant in variants)
        {
            await using var app = await BenchApp.StartAsync(variant);
            await using var connection = await RawHttpConnection.ConnectAsync(app.Address);
            await Expect(connection.SendAsync("POST", "/init"), variant.Name + ": create the session");
            foreach (var (name, method, path) in new[] { ("write (`POST /write`, `Required`)", "POST", "/write"), ("read (`GET /read`, `ReadOnly`)", "GET", "/read") })
            {
                Console.Error.WriteLine($"[3] {variant.Name}: {name}");
                var request = connection.Build(method, path);
                await Expect(connection.SendAsync(request), name); // warm-up
                var commands = await CountCommandsAsync(host, port, info, async () =>
                {
                    for (var i = 0; i < Count; i++)
                    {
                        await Expect(connection.SendAsync(request), name);
                    }
                });
                foreach (var background in BackgroundCommands)
                {
                    commands.Remove(background);
                }

                var detail = string.Join(", ", commands.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key} ×{Fmt.Num(c.Value / (double)Count, "0.##")}"));
                rows.Add(new[] { variant.Name, name, Fmt.Num(commands.Values.Sum() / (double)Count, "0.##"), detail.Length == 0 ? "–" : detail });
            }
        }

        sink.Line("### The fair peer: ASP.NET Core's session on Redis, same endpoint code");
        sink.Line();
        sink.Line($"The `ISession` endpoints of scenario 2, {Count} requests each on one session, commands counted with MONITOR as above. " +
                  "ASP.NET Core's session loads with a read that also slides the expiry, and stores the whole session after a change; it never locks.");
        sink.Line();
        sink.Table(new[] { "set-up", "request", "commands (round trips)", "which" }, rows);
    }

    private static async Task Expect(Task<int> request, string what)
    {
        var status = await request;
        if (status != 200)
        {
            throw new InvalidOperationException($"{what}: HTTP {status}");
        }
    }

    /// <summary>The bytes one INFO stats call adds to each counter (its request in, its reply out).</summary>
    private static async Task<(long In, long Out)> InfoOverheadAsync(RespClient info)
    {
        long bestIn = long.MaxValue, bestOut = long.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var (in0, out0) = await info.NetBytesAsync();
            var (in1, out1) = await info.NetBytesAsync();
            bestIn = Math.Min(bestIn, in1 - in0);
            bestOut = Math.Min(bestOut, out1 - out0);
        }

        return (bestIn, bestOut);
    }

    /// <summary>Runs <paramref name="action"/> under MONITOR and counts the commands of every other client by name.</summary>
    private static async Task<Dictionary<string, int>> CountCommandsAsync(string host, int port, RespClient info, Func<Task> action)
    {
        await using var monitor = await RespClient.ConnectAsync(host, port);
        await monitor.StartMonitorAsync();
        await action();
        var marker = "benchmark-marker-" + Guid.NewGuid().ToString("N");
        await info.CommandAsync("ECHO", marker);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        var ownPorts = new[] { ":" + info.LocalPort, ":" + monitor.LocalPort };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var line = await monitor.ReadMonitorLineAsync(timeout.Token);
            if (line.Contains(marker, StringComparison.Ordinal))
            {
                break;
            }

            var match = MonitorLine().Match(line);
            if (!match.Success || match.Groups["client"].Value == "lua" || ownPorts.Any(p => match.Groups["client"].Value.EndsWith(p, StringComparison.Ordinal)))
            {
                continue;
            }

            var name = match.Groups["command"].Value.ToUpperInvariant();
            counts[name] = counts.GetValueOrDefault(name) + 1;
        }

        return counts;
    }

    // 1700000000.123456 [0 127.0.0.1:54321] "EVALSHA" "..." / [0 lua] "hset" ...
    [GeneratedRegex("""^\+?[0-9.]+ \[[0-9]+ (?<client>[^\]]+)\] "(?<command>[^"]+)".*$""", RegexOptions.Singleline)]
    private static partial Regex MonitorLine();
}
