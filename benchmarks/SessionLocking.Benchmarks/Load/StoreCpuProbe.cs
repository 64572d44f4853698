using System.Diagnostics;
using System.Text;
using SessionLocking.Redis;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// <c>store-cpu</c>: the write path of the Redis store alone (acquire-and-load, then a write-back of one small item),
/// 32 workers each on its own session for <c>--seconds</c>, against <c>--redis</c> (or one it starts). Prints cycles/s,
/// this process's CPU per cycle and Redis's (INFO cpu) and its <c>EVALSHA</c> µs per call (INFO commandstats): the A/B
/// probe for changes to the write path (run it before and after, on a quiet machine, alternating).
/// </summary>
internal static class StoreCpuProbe
{
    public static async Task<int> RunAsync(string? redis, TimeSpan duration, int workers)
    {
        await using var own = redis is null or "start" ? await RedisServer.StartAsync() : null;
        var configuration = own?.Configuration ?? redis!;
        var endpoint = configuration.Split(',')[0];
        await using var info = await RespClient.ConnectAsync(endpoint.Split(':')[0], int.Parse(endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = "cpu-" + Guid.NewGuid().ToString("N")[..6] });
        var ids = Enumerable.Range(0, workers).Select(_ => SessionIds.Create()).ToArray();
        var value = Encoding.UTF8.GetBytes(new string('x', 100));
        foreach (var id in ids)
        {
            await CycleAsync(store, id, value, isNew: true);
        }

        var stop = false;
        long cycles = 0;
        async Task WorkerAsync(string id)
        {
            while (!Volatile.Read(ref stop))
            {
                await CycleAsync(store, id, value, isNew: false);
                Interlocked.Increment(ref cycles);
            }
        }

        var warm = ids.Select(id => Task.Run(() => WorkerAsync(id))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var cpu0 = LoadRunner.ProcessCpuTime();
        var redisCpu0 = await RedisCpuAsync(info);
        var stats0 = await info.InfoAsync("commandstats");
        var n0 = Interlocked.Read(ref cycles);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var n1 = Interlocked.Read(ref cycles);
        var elapsed = clock.Elapsed;
        var cpu1 = LoadRunner.ProcessCpuTime();
        var redisCpu1 = await RedisCpuAsync(info);
        var stats1 = await info.InfoAsync("commandstats");
        Volatile.Write(ref stop, true);
        await Task.WhenAll(warm);
        var n = n1 - n0;
        var (calls0, usec0) = EvalSha(stats0);
        var (calls1, usec1) = EvalSha(stats1);
        Console.WriteLine($"cycles/s {n / elapsed.TotalSeconds:0}; client CPU/cycle {(cpu1 - cpu0).TotalMicroseconds / n:0.0} µs; Redis CPU/cycle {(redisCpu1 - redisCpu0) * 1e6 / n:0.0} µs; EVALSHA {(usec1 - usec0) / (double)Math.Max(1, calls1 - calls0):0.00} µs/call, {(calls1 - calls0) / (double)n:0.00} calls/cycle");
        return 0;
    }

    private static async Task CycleAsync(RedisSessionStateStore store, string id, byte[] value, bool isNew)
    {
        var held = await store.GetExclusiveAsync(id, TimeSpan.FromSeconds(30), createIfMissing: isNew, default);
        await store.WriteAndReleaseAsync(id, held.LockId, new SessionChanges(new Dictionary<string, byte[]> { ["v"] = value }, [], TimeSpan.FromMinutes(20), isNew), default);
    }

    private static async Task<double> RedisCpuAsync(RespClient info)
    {
        var cpu = await info.InfoAsync("cpu");
        return double.Parse(cpu["used_cpu_user"], System.Globalization.CultureInfo.InvariantCulture) + double.Parse(cpu["used_cpu_sys"], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static (long Calls, long Usec) EvalSha(Dictionary<string, string> stats)
    {
        if (!stats.TryGetValue("cmdstat_evalsha", out var line))
        {
            return (0, 0);
        }

        var parts = line.Split(',').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);
        return (long.Parse(parts["calls"], System.Globalization.CultureInfo.InvariantCulture), long.Parse(parts["usec"], System.Globalization.CultureInfo.InvariantCulture));
    }
}
