using System.Diagnostics;
using System.Globalization;
using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.Redis;
using StackExchange.Redis;

namespace SessionLocking.Benchmarks.PubSub;

/// <summary>
/// Cluster-scale wake-ups: what one release costs the nodes of a Redis Cluster, classic PUBLISH against sharded
/// SPUBLISH. For a local cluster of 3 and of 6 masters (no replicas), the store releases <see cref="Releases"/> locks
/// over <see cref="Sessions"/> sessions, each session with one subscriber (a second store, as a waiter on another web
/// server would be). Before and after, every node is asked for its cluster bus counters (<c>CLUSTER INFO</c>:
/// <c>cluster_stats_messages_publish_sent/received</c>, <c>..._publishshard_sent/received</c>) and how often it ran
/// PUBLISH/SPUBLISH (<c>INFO commandstats</c>, scripts included). A node "handled" a release when it ran its publish
/// command or received it over the bus.
/// </summary>
internal static class ClusterPubSubScenario
{
    public const int Releases = 2_000;
    public const int Sessions = 100;
    private static readonly int[] ClusterSizes = [3, 6];

    /// <summary>The cluster set-ups: masters and replicas per master (the last one shows a shard of two nodes).</summary>
    private static readonly (int Masters, int Replicas)[] Setups = [(3, 0), (6, 0), (3, 1)];

    public static async Task RunAsync(ResultSink sink)
    {
        sink.Line("## 6. Cluster pub/sub: messages per release on a 3- and a 6-master Redis Cluster");
        sink.Line();
        sink.Line($"A local Redis Cluster ({RedisVersion()}, loopback, no persistence) of 3 and then 6 masters without replicas, then 3 masters with one replica each; {Releases:N0} releases " +
                  $"(acquire + release, {Releases / Sessions} per session, sessions in parallel) over {Sessions} sessions, each session with one subscriber on a second store " +
                  "(a waiter on another web server). Counters are read from every node before and after: the cluster bus's publish messages (`CLUSTER INFO`) and the " +
                  "PUBLISH/SPUBLISH calls of the scripts (`INFO commandstats`). *Per node* = (publish commands run there + publish messages it received over the bus) / releases, " +
                  "i.e. how many nodes each release reaches. The store's client here is StackExchange.Redis " + ClientVersion() + ".");
        sink.Line();

        var rows = new List<IReadOnlyList<string>>();
        var results = new List<Result>();
        foreach (var (masters, replicas) in Setups)
        {
            Console.WriteLine($"-- starting a cluster of {masters} masters, {replicas} replica(s) each");
            await using var cluster = await LocalRedisCluster.StartAsync(masters, replicas);
            foreach (var choice in new[] { ReleaseChannelChoice.Classic, ReleaseChannelChoice.Auto })
            {
                var result = await MeasureAsync(cluster, masters, replicas, choice);
                if (result.Sharded is null)
                {
                    rows.Add([Nodes(masters, replicas), "SPUBLISH (sharded)", "–", $"not available: StackExchange.Redis {ClientVersion()} has no sharded channels", "–", "–", "–", "–"]);
                    continue;
                }

                results.Add(result);
                rows.Add(result.Row());
            }
        }

        sink.Table(
            ["nodes", "publish", "releases", "delivered to the subscriber / release", "per node / release: mean (min–max)", "nodes reached / release (sum)", "bus messages sent / release", "time"],
            rows);

        var perNodeClassic = results.Where(r => r.Sharded == false && r.Replicas == 0).ToDictionary(r => r.Masters);
        var perNodeSharded = results.Where(r => r.Sharded == true && r.Replicas == 0).ToDictionary(r => r.Masters);
        sink.Line("Classic PUBLISH is broadcast over the cluster bus to every node (sent to N−1, received by each), so each release reaches every node and the cost grows with " +
                  "the cluster; SPUBLISH stays on the shard that owns the session's slot: without replicas that is one master (nothing on the bus), so each release reaches one node whatever the size; " +
                  "with one replica per master it reaches the two nodes of its shard (the master sends it to its replica), against all six for PUBLISH.");
        sink.Line();

        foreach (var masters in ClusterSizes)
        {
            var classic = perNodeClassic[masters];
            if (perNodeSharded.TryGetValue(masters, out var sharded))
            {
                sink.Target(new TargetResult(
                    "6. Cluster pub/sub",
                    $"{masters} masters: SPUBLISH reaches ~1 node per release, classic PUBLISH all {masters}",
                    $"SPUBLISH {Fmt.Num(sharded.NodesReached, "0.00")}, PUBLISH {Fmt.Num(classic.NodesReached, "0.00")} nodes per release",
                    sharded.NodesReached <= 1.05 && classic.NodesReached >= masters - 0.05 && sharded.DeliveredPerRelease >= 0.99 && classic.DeliveredPerRelease >= 0.99));
            }
            else
            {
                sink.Target(new TargetResult(
                    "6. Cluster pub/sub",
                    $"{masters} masters: SPUBLISH reaches ~1 node per release, classic PUBLISH all {masters}",
                    $"PUBLISH {Fmt.Num(classic.NodesReached, "0.00")} nodes per release; SPUBLISH not measured",
                    null,
                    $"not run: StackExchange.Redis {ClientVersion()} has no sharded channels"));
            }
        }
    }

    private static string Nodes(int masters, int replicas) =>
        replicas == 0 ? $"{masters} masters" : $"{masters} masters + {masters * replicas} replicas";

    private static async Task<Result> MeasureAsync(LocalRedisCluster cluster, int masters, int replicas, ReleaseChannelChoice choice)
    {
        var prefix = "bench-" + Guid.NewGuid().ToString("N")[..8];
        RedisSessionStateStore NewStore() => new(new RedisSessionStoreOptions { Configuration = cluster.Configuration, KeyPrefix = prefix }) { ReleaseChannels = choice };
        await using var publisher = NewStore();
        await using var subscriber = NewStore();
        var sharded = await subscriber.UsesShardedChannelsAsync(default);
        if (choice == ReleaseChannelChoice.Auto && !sharded)
        {
            Console.WriteLine($"-- {masters} masters: sharded pub/sub not available (client {ClientVersion()}); only classic measured");
            return new Result(masters, replicas, null, 0, 0, [], 0, TimeSpan.Zero);
        }

        var ids = Enumerable.Range(0, Sessions).Select(_ => SessionIds.Create()).ToArray();
        var delivered = 0L;
        var subscriptions = new List<IAsyncDisposable>();
        foreach (var id in ids)
        {
            subscriptions.Add(await subscriber.SubscribeAsync(id, () => Interlocked.Increment(ref delivered), default));
        }

        try
        {
            // Warm-up: scripts loaded on every node, connections made.
            await Task.WhenAll(ids.Select(id => CycleAsync(publisher, id)));
            await WaitForAsync(() => Interlocked.Read(ref delivered) >= Sessions);
            await Task.Delay(300); // let bus messages of the warm-up arrive
            Interlocked.Exchange(ref delivered, 0);

            var before = await SnapshotAsync(cluster);
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(ids.Select(async id =>
            {
                for (var i = 0; i < Releases / Sessions; i++)
                {
                    await CycleAsync(publisher, id);
                }
            }));
            clock.Stop();
            await WaitForAsync(() => Interlocked.Read(ref delivered) >= Releases);
            await Task.Delay(300); // bus messages are delivered asynchronously
            var after = await SnapshotAsync(cluster);

            var perNode = cluster.Ports.Select(port => (after[port].Reached - before[port].Reached) / (double)Releases).ToArray();
            var busSent = cluster.Ports.Sum(port => after[port].BusSent - before[port].BusSent) / (double)Releases;
            var result = new Result(masters, replicas, sharded, Interlocked.Read(ref delivered) / (double)Releases, perNode.Sum(), perNode, busSent, clock.Elapsed);
            Console.WriteLine($"-- {Nodes(masters, replicas)}, {(sharded ? "SPUBLISH" : "PUBLISH")}: {string.Join(" | ", result.Row())}");
            return result;
        }
        finally
        {
            foreach (var subscription in subscriptions)
            {
                await subscription.DisposeAsync();
            }
        }
    }

    private static async Task CycleAsync(RedisSessionStateStore store, string id)
    {
        var held = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: true, default);
        if (held.Status == SessionStoreStatus.Locked || !await store.ReleaseAsync(id, held.LockId, default))
        {
            throw new InvalidOperationException("A benchmark session was locked by someone else.");
        }
    }

    private static async Task WaitForAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition() && deadline.Elapsed < TimeSpan.FromSeconds(10))
        {
            await Task.Delay(10);
        }
    }

    private static async Task<Dictionary<int, Counters>> SnapshotAsync(LocalRedisCluster cluster)
    {
        var snapshot = new Dictionary<int, Counters>();
        foreach (var port in cluster.Ports)
        {
            var bus = Parse((string?)await LocalRedisCluster.CommandAsync(port, "CLUSTER", "INFO") ?? string.Empty, "cluster_stats_messages_");
            var stats = (string?)await LocalRedisCluster.CommandAsync(port, "INFO", "commandstats") ?? string.Empty;
            var calls = Calls(stats, "publish") + Calls(stats, "spublish");
            snapshot[port] = new Counters(
                calls + bus.GetValueOrDefault("publish_received") + bus.GetValueOrDefault("publishshard_received"),
                bus.GetValueOrDefault("publish_sent") + bus.GetValueOrDefault("publishshard_sent"));
        }

        return snapshot;
    }

    private static Dictionary<string, long> Parse(string text, string start)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            if (line.StartsWith(start, StringComparison.Ordinal) && colon > 0 && long.TryParse(line[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var value))
            {
                values[line[start.Length..colon]] = value;
            }
        }

        return values;
    }

    /// <summary>calls= of one command in INFO commandstats (0 when it never ran).</summary>
    private static long Calls(string commandStats, string command)
    {
        var start = "cmdstat_" + command + ":";
        foreach (var line in commandStats.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith(start, StringComparison.Ordinal))
            {
                var calls = line[start.Length..].Split(',').First(p => p.StartsWith("calls=", StringComparison.Ordinal))["calls=".Length..];
                return long.Parse(calls, CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    private static string ClientVersion() =>
        FileVersionInfo.GetVersionInfo(typeof(RedisChannel).Assembly.Location).ProductVersion?.Split('+')[0] ?? "?";

    private static string RedisVersion()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("redis-server", "--version") { RedirectStandardOutput = true, UseShellExecute = false })!;
            var text = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            var at = text.IndexOf("v=", StringComparison.Ordinal);
            return at < 0 ? "redis-server" : "redis-server " + text[(at + 2)..].Split(' ')[0];
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return "redis-server";
        }
    }

    private sealed record Counters(long Reached, long BusSent);

    private sealed record Result(int Masters, int Replicas, bool? Sharded, double DeliveredPerRelease, double NodesReached, double[] PerNode, double BusSentPerRelease, TimeSpan Elapsed)
    {
        public IReadOnlyList<string> Row() =>
        [
            Nodes(Masters, Replicas),
            Sharded == true ? "SPUBLISH (sharded)" : "PUBLISH (classic)",
            Releases.ToString("N0", CultureInfo.InvariantCulture),
            Fmt.Num(DeliveredPerRelease, "0.00"),
            $"{Fmt.Num(PerNode.Average(), "0.00")} ({Fmt.Num(PerNode.Min(), "0.00")}–{Fmt.Num(PerNode.Max(), "0.00")})",
            Fmt.Num(NodesReached, "0.00"),
            Fmt.Num(BusSentPerRelease, "0.00"),
            Fmt.Ms(Elapsed.TotalMilliseconds),
        ];
    }
}
