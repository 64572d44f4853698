using System.Diagnostics;
using SessionLocking.Benchmarks.Infrastructure;

namespace SessionLocking.Benchmarks.Load;

/// <summary>What one client sends next.</summary>
internal readonly record struct Step(byte[] Request, int Kind);

/// <summary>The outcome of one measured load phase.</summary>
internal sealed class LoadResult
{
    public LoadResult(int kinds)
    {
        ByKind = Enumerable.Range(0, kinds).Select(_ => new Latencies()).ToArray();
    }

    public long Completed { get; set; }

    public long Errors { get; set; }

    public TimeSpan Elapsed { get; set; }

    public Latencies All { get; } = new();

    public Latencies[] ByKind { get; }

    public double Throughput => Completed / Elapsed.TotalSeconds;

    /// <summary>CPU time of this process (server and load driver) during the measured time.</summary>
    public TimeSpan ProcessCpu { get; set; }

    /// <summary>CPU time of the Redis server during the measured time, when one was given.</summary>
    public TimeSpan? RedisCpu { get; set; }

    /// <summary>Process CPU per completed request, in microseconds.</summary>
    public double ProcessCpuPerRequest => ProcessCpu.TotalMicroseconds / Completed;

    /// <summary>Redis CPU per completed request, in microseconds.</summary>
    public double? RedisCpuPerRequest => RedisCpu?.TotalMicroseconds / Completed;

    public void Merge(LoadResult other)
    {
        Completed += other.Completed;
        Errors += other.Errors;
        Elapsed += other.Elapsed;
        ProcessCpu += other.ProcessCpu;
        RedisCpu = other.RedisCpu is { } redis ? (RedisCpu ?? TimeSpan.Zero) + redis : RedisCpu;
        for (var i = 0; i < ByKind.Length; i++)
        {
            ByKind[i].AddRange(other.ByKindTicks[i]);
        }

        All.AddRange(other.ByKindTicks.SelectMany(t => t));
    }

    internal List<long>[] ByKindTicks { get; set; } = Array.Empty<List<long>>();
}

/// <summary>Closed-loop load: every client sends its next request as soon as the previous response is in.</summary>
internal static class LoadRunner
{
    /// <param name="connections">One keep-alive connection per client.</param>
    /// <param name="next">The next request of client <c>c</c>, given how many it sent before.</param>
    /// <param name="kinds">How many request kinds <paramref name="next"/> uses (for per-kind latencies).</param>
    /// <param name="warmup">Load before measuring (not recorded).</param>
    /// <param name="duration">The measured time.</param>
    /// <param name="onMeasure">Called when measuring starts (true) and stops (false).</param>
    /// <param name="redisCpu">Reads the Redis server's CPU time so far (INFO cpu), to charge the measured time with it.</param>
    /// <param name="serverCpu">Reads the server process's CPU time so far when the server runs in another process; null: this process's.</param>
    public static async Task<LoadResult> RunAsync(
        IReadOnlyList<RawHttpConnection> connections,
        Func<int, long, Step> next,
        int kinds,
        TimeSpan warmup,
        TimeSpan duration,
        Action<bool>? onMeasure = null,
        Func<Task<TimeSpan>>? redisCpu = null,
        Func<Task<TimeSpan>>? serverCpu = null)
    {
        var measuring = 0; // 0 warm-up, 1 measuring, 2 stopped
        var perClient = new List<long>[connections.Count][];
        var errors = new long[connections.Count];
        using var stop = new CancellationTokenSource();

        async Task ClientAsync(int c)
        {
            var ticks = Enumerable.Range(0, kinds).Select(_ => new List<long>(4096)).ToArray();
            perClient[c] = ticks;
            long seq = 0;
            while (Volatile.Read(ref measuring) < 2)
            {
                var step = next(c, seq++);
                var started = Stopwatch.GetTimestamp();
                int status;
                try
                {
                    status = await connections[c].SendAsync(step.Request, stop.Token);
                }
                catch (OperationCanceledException) when (stop.IsCancellationRequested)
                {
                    return;
                }

                var ended = Stopwatch.GetTimestamp();
                // Counted when it completed inside the measured phase, whenever it started (throughput is
                // completions per second; a request that waited through a whole poll still counts, with its wait).
                if (Volatile.Read(ref measuring) == 1)
                {
                    if (status is >= 200 and < 300)
                    {
                        ticks[step.Kind].Add(ended - started);
                    }
                    else
                    {
                        errors[c]++;
                    }
                }
            }
        }

        var tasks = Enumerable.Range(0, connections.Count).Select(c => Task.Run(() => ClientAsync(c))).ToArray();
        await Task.Delay(warmup);
        onMeasure?.Invoke(true);
        var redisCpuBefore = redisCpu is null ? TimeSpan.Zero : await redisCpu();
        var processCpuBefore = serverCpu is null ? ProcessCpuTime() : await serverCpu();
        var watch = Stopwatch.StartNew();
        Volatile.Write(ref measuring, 1);
        await Task.Delay(duration);
        Volatile.Write(ref measuring, 2);
        watch.Stop();
        var processCpu = (serverCpu is null ? ProcessCpuTime() : await serverCpu()) - processCpuBefore;
        TimeSpan? redisCpuUsed = redisCpu is null ? null : await redisCpu() - redisCpuBefore;
        onMeasure?.Invoke(false);

        // Let in-flight requests finish (a classic-mode waiter may need up to one poll); then cut the rest off.
        var all = Task.WhenAll(tasks);
        if (await Task.WhenAny(all, Task.Delay(TimeSpan.FromSeconds(10))) != all)
        {
            await stop.CancelAsync();
        }

        try
        {
            await all;
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
        }

        var result = new LoadResult(kinds)
        {
            Elapsed = watch.Elapsed,
            ProcessCpu = processCpu,
            RedisCpu = redisCpuUsed,
            ByKindTicks = Enumerable.Range(0, kinds).Select(k => perClient.Where(p => p is not null).SelectMany(p => p[k]).ToList()).ToArray(),
        };
        result.Completed = result.ByKindTicks.Sum(t => t.Count);
        result.Errors = errors.Sum();
        for (var k = 0; k < kinds; k++)
        {
            result.ByKind[k].AddRange(result.ByKindTicks[k]);
        }

        result.All.AddRange(result.ByKindTicks.SelectMany(t => t));
        return result;
    }

    /// <summary>The CPU time this process has used so far (user and system, all threads).</summary>
    public static TimeSpan ProcessCpuTime()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    public static async Task<RawHttpConnection[]> ConnectAsync(Uri address, int count, string? cookie = null)
    {
        var connections = new RawHttpConnection[count];
        for (var i = 0; i < count; i++)
        {
            connections[i] = await RawHttpConnection.ConnectAsync(address);
            connections[i].Cookie = cookie;
        }

        return connections;
    }

    public static async Task DisposeAsync(IEnumerable<RawHttpConnection> connections)
    {
        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }
}
