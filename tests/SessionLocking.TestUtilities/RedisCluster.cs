using System.Diagnostics;

namespace SessionLocking.TestUtilities;

/// <summary>
/// A local Redis Cluster of three masters and no replicas, on free loopback ports, made with
/// <c>redis-cli --cluster create</c>; ready when every node reports <c>cluster_state:ok</c>. Every node is stopped
/// (and its directory deleted) when disposed.
/// </summary>
public sealed class RedisCluster : IAsyncDisposable
{
    private readonly List<RedisServer> _nodes = new();

    private RedisCluster()
    {
    }

    public IReadOnlyList<RedisServer> Nodes => _nodes;

    /// <summary>All three nodes, as a StackExchange.Redis configuration string.</summary>
    public string Configuration => string.Join(",", _nodes.Select(n => n.Configuration));

    public static async Task<RedisCluster> StartAsync()
    {
        var cluster = new RedisCluster();
        try
        {
            await cluster.CreateAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in _nodes)
        {
            await node.DisposeAsync();
        }
    }

    private async Task CreateAsync()
    {
        for (var i = 0; i < 3; i++)
        {
            _nodes.Add(await RedisServer.StartAsync(clusterNode: true));
        }

        var create = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        create.ArgumentList.Add("--cluster");
        create.ArgumentList.Add("create");
        foreach (var node in _nodes)
        {
            create.ArgumentList.Add(node.Configuration);
        }

        create.ArgumentList.Add("--cluster-replicas");
        create.ArgumentList.Add("0");
        create.ArgumentList.Add("--cluster-yes");
        using (var process = Process.Start(create) ?? throw new InvalidOperationException("redis-cli did not start."))
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var error = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(30_000))
            {
                process.Kill();
                throw new InvalidOperationException("redis-cli --cluster create did not finish within 30 s.");
            }

            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"redis-cli --cluster create failed ({process.ExitCode}): {await output} {await error}");
            }
        }

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        foreach (var node in _nodes)
        {
            while (true)
            {
                using var client = await node.ConnectAsync();
                var info = await client.StringAsync("CLUSTER", "INFO") ?? string.Empty;
                if (info.Contains("cluster_state:ok", StringComparison.Ordinal))
                {
                    break;
                }

                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"The Redis cluster did not reach cluster_state:ok within 30 s: {info}");
                }

                await Task.Delay(50);
            }
        }
    }
}
