using System.Diagnostics;
using System.Net.Sockets;
using SessionLocking.TestUtilities;

namespace SessionLocking.Benchmarks.PubSub;

/// <summary>
/// A local Redis Cluster of <c>masters</c> masters, each with <c>replicas</c> replicas: redis-server processes on free loopback ports (the
/// cluster bus port, +10000, free too), no persistence, joined with <c>redis-cli --cluster create</c>; ready when every
/// node reports <c>cluster_state:ok</c>. Killed, and its directory deleted, when disposed.
/// </summary>
internal sealed class LocalRedisCluster : IAsyncDisposable
{
    private readonly List<(int Port, Process Process)> _nodes = new();
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "sessionlocking-bench-cluster-" + Guid.NewGuid().ToString("N"));

    private LocalRedisCluster()
    {
    }

    public IReadOnlyList<int> Ports => _nodes.Select(n => n.Port).ToArray();

    /// <summary>Every node, as a StackExchange.Redis configuration string.</summary>
    public string Configuration => string.Join(",", _nodes.Select(n => $"127.0.0.1:{n.Port}"));

    public static async Task<LocalRedisCluster> StartAsync(int masters, int replicas = 0)
    {
        var cluster = new LocalRedisCluster();
        try
        {
            Directory.CreateDirectory(cluster._directory);
            var taken = new HashSet<int>();
            for (var i = 0; i < masters * (1 + replicas); i++)
            {
                await cluster.StartNodeAsync(taken);
            }

            await cluster.CreateAsync(replicas);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>One command whose reply is text to one node, on a fresh connection.</summary>
    public static async Task<string?> CommandAsync(int port, params string[] args)
    {
        await using var connection = await RespClient.ConnectAsync("127.0.0.1", port);
        return await connection.StringAsync(args);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var (_, process) in _nodes)
        {
            try
            {
                if (!process.HasExited)
                {
                    process.Kill(entireProcessTree: true);
                    await process.WaitForExitAsync();
                }
            }
            catch (InvalidOperationException)
            {
            }

            process.Dispose();
        }

        _nodes.Clear();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task StartNodeAsync(HashSet<int> taken)
    {
        for (var attempt = 0; attempt < 10; attempt++)
        {
            var port = FreePorts.Next(withClusterBus: true, exclude: taken);
            var dir = Path.Combine(_directory, port.ToString(System.Globalization.CultureInfo.InvariantCulture));
            Directory.CreateDirectory(dir);
            var start = new ProcessStartInfo("redis-server") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
            foreach (var arg in new[]
                     {
                         "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                         "--dir", dir, "--logfile", Path.Combine(dir, "redis.log"), "--daemonize", "no",
                         "--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(dir, "nodes.conf"), "--cluster-node-timeout", "5000",
                     })
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start) ?? throw new InvalidOperationException("redis-server did not start (is it installed?).");
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!process.HasExited && DateTime.UtcNow < deadline)
            {
                try
                {
                    if (await CommandAsync(port, "PING") as string == "PONG")
                    {
                        taken.Add(port);
                        _nodes.Add((port, process));
                        return;
                    }
                }
                catch (Exception ex) when (ex is SocketException or IOException)
                {
                }

                await Task.Delay(20);
            }

            if (!process.HasExited)
            {
                process.Kill();
            }

            process.Dispose();
        }

        throw new InvalidOperationException("Could not start a redis-server cluster node on a free port.");
    }

    private async Task CreateAsync(int replicas)
    {
        var create = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        create.ArgumentList.Add("--cluster");
        create.ArgumentList.Add("create");
        foreach (var (port, _) in _nodes)
        {
            create.ArgumentList.Add($"127.0.0.1:{port}");
        }

        create.ArgumentList.Add("--cluster-replicas");
        create.ArgumentList.Add(replicas.ToString(System.Globalization.CultureInfo.InvariantCulture));
        create.ArgumentList.Add("--cluster-yes");
        using (var process = Process.Start(create) ?? throw new InvalidOperationException("redis-cli did not start."))
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(limit.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({process.ExitCode}): {await output} {await error}");
            }
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        foreach (var (port, _) in _nodes)
        {
            while (!((await CommandAsync(port, "CLUSTER", "INFO")) as string ?? string.Empty).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException("The local Redis cluster did not reach cluster_state:ok within 60 s.");
                }

                await Task.Delay(50);
            }
        }

        // Replicas: in sync with their master (master_link_status:up), so that they take part in their shard.
        foreach (var (port, _) in _nodes)
        {
            while (((await CommandAsync(port, "INFO", "replication")) as string ?? string.Empty) is var info
                   && info.Contains("role:slave", StringComparison.Ordinal) && !info.Contains("master_link_status:up", StringComparison.Ordinal))
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException("A replica of the local Redis cluster did not sync within 60 s.");
                }

                await Task.Delay(50);
            }
        }
    }
}
