using SessionLocking.Benchmarks.Infrastructure;
using System.Diagnostics;
using System.Text;
using SessionLocking.Redis;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks.Load;

/// <summary>
/// <c>store-cpu</c>: the write path of the Redis store alone (acquire-and-load, then a write-back of one small item),
/// 32 workers each on its own session for <c>--seconds</c>, against <c>--redis</c> (or one it starts). Prints cycles/s,
/// this process's CPU per cycle and Redis's (INFO cpu) and its <c>EVALSHA</c> µs per call (INFO commandstats): the A/B
/// probe for changes to the write path (run it before and after, on a quiet machine, alternating). <c>--mode</c>:
/// <c>write</c> (the default, above); <c>read</c>, the store's read-only load of a stored session (cached version
/// current, so no items come back); <c>raw-read</c>, the same script by a bare <c>ScriptEvaluateAsync</c> on the
/// store's connection settings (no store code around it); <c>hgetall</c>, one plain <c>HGETALL</c> of the session's hash.
/// The last two are the client-side floor a store call can be compared with.
/// </summary>
internal static class StoreCpuProbe
{
    public static async Task<int> RunAsync(string? redis, TimeSpan duration, int workers, string mode = "write", bool allocations = false)
    {
        using var sampler = allocations ? new AllocationSampler() : null;
        await using var own = redis is null or "start" ? await RedisServer.StartAsync() : null;
        var configuration = own?.Configuration ?? redis!;
        var endpoint = configuration.Split(',')[0];
        await using var info = await RespClient.ConnectAsync(endpoint.Split(':')[0], int.Parse(endpoint.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture));
        var prefix = "cpu-" + Guid.NewGuid().ToString("N")[..6];
        await using var store = new RedisSessionStateStore(new RedisSessionStoreOptions { Configuration = configuration, KeyPrefix = prefix });
        var ids = Enumerable.Range(0, workers).Select(_ => SessionIds.Create()).ToArray();
        var value = Encoding.UTF8.GetBytes(new string('x', 100));
        foreach (var id in ids)
        {
            await CycleAsync(store, id, value, isNew: true);
        }

        var raw = mode is "raw-read" or "hgetall"
            ? await StackExchange.Redis.ConnectionMultiplexer.ConnectAsync(RawOptions(configuration))
            : null;
        var sharedText = RedisSessionStateStore.Scripts.First(s => s.Operation == "read-only load" && !s.Text.Contains("KEYS[3]", StringComparison.Ordinal)).Text;
        var sharedHash = raw is null ? null : (byte[])(await raw.GetServers()[0].ScriptLoadAsync(sharedText));
        var keys = new RedisSessionKeys(prefix);
        // The raw read holds the current version, as the store's cached read does (the answer carries no items).
        var versions = new Dictionary<string, string>(StringComparer.Ordinal);
        if (raw is not null)
        {
            foreach (var id in ids)
            {
                var first = (StackExchange.Redis.RedisResult[])(await raw.GetDatabase().ScriptEvaluateAsync(sharedHash!, keys.For(id), [""]))!;
                versions[id] = (string)first[3]!;
            }
        }

        Func<string, Task> cycle = mode switch
        {
            "read" => async id => await store.GetSharedAsync(id, default),
            "raw-read" => id => raw!.GetDatabase().ScriptEvaluateAsync(sharedHash!, keys.For(id), [versions[id]]),
            "hgetall" => id => raw!.GetDatabase().HashGetAllAsync(keys.For(id)[0]),
            _ => id => CycleAsync(store, id, value, isNew: false),
        };

        var stop = false;
        long cycles = 0;
        async Task WorkerAsync(string id)
        {
            while (!Volatile.Read(ref stop))
            {
                await cycle(id);
                Interlocked.Increment(ref cycles);
            }
        }

        var warm = ids.Select(id => Task.Run(() => WorkerAsync(id))).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(1));
        var cpu0 = LoadRunner.ProcessCpuTime();
        var redisCpu0 = await RedisCpuAsync(info);
        var stats0 = await info.InfoAsync("commandstats");
        var allocated0 = GC.GetTotalAllocatedBytes();
        if (sampler is not null)
        {
            sampler.Sampling = true;
        }

        var n0 = Interlocked.Read(ref cycles);
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var n1 = Interlocked.Read(ref cycles);
        var allocated1 = GC.GetTotalAllocatedBytes();
        if (sampler is not null)
        {
            sampler.Sampling = false;
        }

        var elapsed = clock.Elapsed;
        var cpu1 = LoadRunner.ProcessCpuTime();
        var redisCpu1 = await RedisCpuAsync(info);
        var stats1 = await info.InfoAsync("commandstats");
        Volatile.Write(ref stop, true);
        await Task.WhenAll(warm);
        var n = n1 - n0;
        var (calls0, usec0) = EvalSha(stats0);
        var (calls1, usec1) = EvalSha(stats1);
        if (raw is not null)
        {
            await raw.DisposeAsync();
        }

        Console.Write(mode + ": ");
        Console.WriteLine($"cycles/s {n / elapsed.TotalSeconds:0}; client CPU/cycle {(cpu1 - cpu0).TotalMicroseconds / n:0.0} µs; Redis CPU/cycle {(redisCpu1 - redisCpu0) * 1e6 / n:0.0} µs; EVALSHA {(usec1 - usec0) / (double)Math.Max(1, calls1 - calls0):0.00} µs/call, {(calls1 - calls0) / (double)n:0.00} calls/cycle; allocated {(allocated1 - allocated0) / (double)n:0} B/cycle");
        sampler?.Print(n);
        return 0;
    }

    /// <summary>The client settings the store gives its own connection (its thread-pool socket manager included), for the raw baselines.</summary>
    private static StackExchange.Redis.ConfigurationOptions RawOptions(string configuration)
    {
        var options = StackExchange.Redis.ConfigurationOptions.Parse(configuration);
#pragma warning disable CS0618
        options.SocketManager = StackExchange.Redis.SocketManager.ThreadPool;
#pragma warning restore CS0618
        return options;
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
