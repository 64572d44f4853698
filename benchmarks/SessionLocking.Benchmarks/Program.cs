using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.Benchmarks.Load;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks;

internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var command = args.Length > 0 ? args[0] : "help";
        var options = Args.Parse(args.Skip(1).ToArray());
        var results = options.Get("results", "benchmarks/results");
        var redis = options.GetOrNull("redis");
        var garnet = options.GetOrNull("garnet");
        var seconds = double.Parse(options.Get("seconds", "10"), System.Globalization.CultureInfo.InvariantCulture);
        switch (command)
        {
            case "hot":
            {
                await using var ownRedis = await StartRedisAsync(redis);
                await using var ownGarnet = garnet == "start" ? await RedisServer.StartGarnetAsync() : null;
                var sink = new ResultSink(results, "1-hot-session");
                await HotSessionScenario.RunAsync(sink, ownRedis?.Configuration ?? redis, ownGarnet?.Configuration ?? garnet, TimeSpan.FromSeconds(seconds));
                sink.Save();
                return 0;
            }

            case "many":
            {
                await using var ownRedis = await StartRedisAsync(redis);
                await using var ownGarnet = garnet == "start" ? await RedisServer.StartGarnetAsync() : null;
                var sink = new ResultSink(results, "2-many-sessions");
                var rounds = int.Parse(options.Get("rounds", "10"), System.Globalization.CultureInfo.InvariantCulture);
                var inProcess = options.GetOrNull("in-process") == "true";
                await ManySessionsScenario.RunAsync(sink, ownRedis?.Configuration ?? redis, ownGarnet?.Configuration ?? garnet, TimeSpan.FromSeconds(seconds), rounds, inProcess ? null : typeof(Program).Assembly.Location);
                sink.Save();
                return 0;
            }

            case "waiting":
            {
                var sink = new ResultSink(results, "4-waiting-cost");
                await Waiting.WaitingCostScenario.RunAsync(sink, typeof(Program).Assembly.Location);
                sink.Save();
                return 0;
            }

            case "many-one":
            {
                await using var ownRedis = await StartRedisAsync(redis);
                return await ManySessionsScenario.RunOneAsync(ownRedis?.Configuration ?? redis, int.Parse(options.Get("setup", "4"), System.Globalization.CultureInfo.InvariantCulture), TimeSpan.FromSeconds(seconds), options.GetOrNull("allocations") == "true");
            }

            case "store-cpu":
                return await StoreCpuProbe.RunAsync(redis, TimeSpan.FromSeconds(seconds), int.Parse(options.Get("workers", "32"), System.Globalization.CultureInfo.InvariantCulture), options.Get("mode", "write"), options.GetOrNull("allocations") == "true");

            case "lua-script":
                return LuaScriptText.Run(options.Get("name", "redis.shared"), options.GetOrNull("ends") == "off");

            case "app-host":
                return await AppHostProcess.ServeAsync(options);

            case "waiting-client":
                return await Waiting.WaitingCostScenario.ClientAsync(options);

            case "micro":
            {
                var sink = new ResultSink(results, "5-micro");
                Micro.MicroRunner.Run(sink, Path.Combine(results, "bdn"), options.GetOrNull("filter"));
                sink.Save();
                return 0;
            }

            case "roundtrips":
            {
                await using var ownRedis = await StartRedisAsync(redis);
                var sink = new ResultSink(results, "3-round-trips");
                await RoundTripsScenario.RunAsync(sink, ownRedis?.Configuration ?? redis);
                sink.Save();
                return 0;
            }

            case "pubsub":
            {
                var sink = new ResultSink(results, "6-cluster-pubsub");
                await PubSub.ClusterPubSubScenario.RunAsync(sink);
                sink.Save();
                return 0;
            }

            case "durable":
            {
                var sink = new ResultSink(results, "7-durable-writes");
                await DurableWritesScenario.RunAsync(sink, TimeSpan.FromSeconds(Math.Clamp(seconds / 2, 2, 10)));
                sink.Save();
                return 0;
            }

            case "report":
                Report.MarkdownReport.Write(options);
                return 0;

            default:
                Console.Error.WriteLine("usage: SessionLocking.Benchmarks <hot|many|roundtrips|waiting|micro|pubsub|durable|report> [--results DIR] [--redis HOST:PORT|start] [--garnet HOST:PORT|start] [--seconds N]");
                return 2;
        }
    }

    /// <summary>
    /// With <c>--redis start</c>, a redis-server of the scenario's own (free loopback port, no persistence; the
    /// launcher of SessionLocking.TestUtilities), stopped when the scenario ends; otherwise none.
    /// </summary>
    private static async Task<RedisServer?> StartRedisAsync(string? redis) =>
        redis == "start" ? await RedisServer.StartAsync() : null;
}

/// <summary>"--name value" pairs.</summary>
internal sealed class Args
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    public List<string> Rest { get; } = new();

    public static Args Parse(string[] args)
    {
        var parsed = new Args();
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i].StartsWith("--", StringComparison.Ordinal) && i + 1 < args.Length)
            {
                parsed._values[args[i][2..]] = args[++i];
            }
            else
            {
                parsed.Rest.Add(args[i]);
            }
        }

        return parsed;
    }

    public string Get(string name, string fallback) => _values.TryGetValue(name, out var v) ? v : fallback;

    public string? GetOrNull(string name) => _values.TryGetValue(name, out var v) ? v : null;
}
