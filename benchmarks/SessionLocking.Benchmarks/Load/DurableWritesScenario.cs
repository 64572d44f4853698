using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using SessionLocking.Benchmarks.Infrastructure;
using SessionLocking.Redis;
using SessionLocking.TestUtilities;
using StackExchange.Redis;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// The cost of durable writes (<see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/>): a local primary with one
/// replica (both started here, loopback, no persistence), store-level lock-and-write cycles (acquire-and-load, then a
/// write-back of one 100-byte item), each worker on its own session; write-backs per second and latencies with
/// asynchronous replication and with <c>WAIT 1</c> pipelined behind each write-back and acquire.
/// </summary>
internal static class DurableWritesScenario
{
    public static async Task RunAsync(ResultSink sink, TimeSpan duration)
    {
        var directory = Path.Combine(Path.GetTempPath(), "sessionlocking-bench-durable-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(directory);
        var primaryPort = FreePorts.Next();
        var replicaPort = FreePorts.Next();
        using var primary = StartRedis(primaryPort, directory, null);
        using var replica = StartRedis(replicaPort, directory, primaryPort);
        try
        {
            await using (var admin = await ConnectionMultiplexer.ConnectAsync($"127.0.0.1:{replicaPort},abortConnect=false,allowAdmin=true"))
            {
                var clock = Stopwatch.StartNew();
                while (!await InSyncAsync(admin, replicaPort))
                {
                    if (clock.Elapsed > TimeSpan.FromSeconds(20))
                    {
                        throw new InvalidOperationException("The replica did not sync.");
                    }

                    await Task.Delay(50);
                }
            }

            sink.Line("## 7. Durable writes: the cost of `MinReplicasAcknowledged` (WAIT for a replica)")
                .Line()
                .Line("Command: `dotnet benchmarks/SessionLocking.Benchmarks/bin/Release/net10.0/SessionLocking.Benchmarks.dll durable --seconds 10` (part of `./scripts/benchmark.sh`).")
                .Line()
                .Line("A local `redis-server` primary with one replica (loopback, no persistence), store-level cycles: acquire-and-load, then a write-back of one 100-byte item; each worker on its own session. `WAIT 1 1000` is pipelined behind each acquire and write-back when `MinReplicasAcknowledged = 1`.")
                .Line();
            var rows = new List<IReadOnlyList<string>>();
            var measured = new Dictionary<(int, int), double>();
            foreach (var workers in new[] { 1, 32 })
            {
                foreach (var replicas in new[] { 0, 1 })
                {
                    var (rate, writeBack, cycle) = await MeasureAsync(primaryPort, workers, replicas, duration);
                    measured[(workers, replicas)] = rate;
                    rows.Add([
                        replicas == 0 ? "off (asynchronous)" : "`MinReplicasAcknowledged = 1`",
                        workers.ToString(System.Globalization.CultureInfo.InvariantCulture),
                        Fmt.Num(rate),
                        Fmt.Ms(writeBack.P50), Fmt.Ms(writeBack.P99),
                        Fmt.Ms(cycle.P50), Fmt.Ms(cycle.P99),
                    ]);
                }
            }

            sink.Table(["durable writes", "workers", "write-backs/s", "write-back p50", "write-back p99", "acquire + write-back p50", "acquire + write-back p99"], rows);
            sink.Line($"Throughput with durable writes: {Fmt.Ratio(measured[(1, 1)] / measured[(1, 0)])} of asynchronous with 1 worker, {Fmt.Ratio(measured[(32, 1)] / measured[(32, 0)])} with 32 workers. " +
                "A `WAIT` blocks the store's connection until the replica answers, so every command behind it waits too: the cost grows with the replica's distance and with concurrency.")
                .Line();
        }
        finally
        {
            Stop(primary);
            Stop(replica);
            try
            {
                Directory.Delete(directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<bool> InSyncAsync(ConnectionMultiplexer admin, int replicaPort)
    {
        try
        {
            var info = (string?)await admin.GetServer($"127.0.0.1:{replicaPort}").ExecuteAsync("INFO", "replication");
            return info?.Contains("master_link_status:up", StringComparison.Ordinal) == true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    private static async Task<(double Rate, Latencies WriteBack, Latencies Cycle)> MeasureAsync(int port, int workers, int replicas, TimeSpan duration)
    {
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions
        {
            Configuration = $"127.0.0.1:{port}",
            KeyPrefix = "bench-durable",
            MinReplicasAcknowledged = replicas,
            ReplicaAckTimeout = TimeSpan.FromSeconds(1),
        });
        var value = Encoding.UTF8.GetBytes(new string('v', 100));
        var writeBack = new Latencies();
        var cycle = new Latencies();
        long count = 0;
        var measuring = false;
        using var stop = new CancellationTokenSource();
        var tasks = Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
        {
            var id = SessionIds.Create();
            var mine = new List<(long WriteBack, long Cycle)>();
            var isNew = true;
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                var result = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: true, default);
                var writing = Stopwatch.GetTimestamp();
                await store.WriteAndReleaseAsync(id, result.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["item"] = value }, [], TimeSpan.FromMinutes(20), isNew), default);
                var done = Stopwatch.GetTimestamp();
                isNew = false;
                if (Volatile.Read(ref measuring))
                {
                    mine.Add((done - writing, done - started));
                    Interlocked.Increment(ref count);
                }
            }

            return mine;
        })).ToArray();

        await Task.Delay(TimeSpan.FromSeconds(1)); // warm-up
        Volatile.Write(ref measuring, true);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        Volatile.Write(ref measuring, false);
        var elapsed = clock.Elapsed;
        var total = Interlocked.Read(ref count);
        await stop.CancelAsync();
        foreach (var samples in await Task.WhenAll(tasks))
        {
            writeBack.AddRange(samples.Select(s => s.WriteBack));
            cycle.AddRange(samples.Select(s => s.Cycle));
        }

        return (total / elapsed.TotalSeconds, writeBack, cycle);
    }

    private static Process StartRedis(int port, string directory, int? replicaOf)
    {
        var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--logfile", Path.Combine(directory, $"redis-{port}.log") })
        {
            start.ArgumentList.Add(arg);
        }

        if (replicaOf is { } primary)
        {
            start.ArgumentList.Add("--replicaof");
            start.ArgumentList.Add("127.0.0.1");
            start.ArgumentList.Add(primary.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
    }
}
