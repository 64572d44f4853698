using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace SessionLocking.TestUtilities;

/// <summary>
/// A redis-server of a test's or a benchmark's own (or a Garnet server, <see cref="StartGarnetAsync"/>): a free
/// loopback port, a temporary directory, no persistence. Killed (and its directory deleted) when disposed, and at the
/// latest when the process that started it exits. Fails loudly when it cannot start.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<RedisServer, bool> Running = new();
    private readonly string[] _extraArgs;
    private readonly bool _garnet;
    private readonly StringBuilder _output = new();
    private Process? _process;

    static RedisServer()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var server in Running.Keys)
            {
                server.Kill();
            }
        };
    }

    private RedisServer(int port, string directory, string[] extraArgs, bool garnet = false)
    {
        Port = port;
        Directory = directory;
        _extraArgs = extraArgs;
        _garnet = garnet;
    }

    public int Port { get; }

    public string Directory { get; }

    /// <summary>The StackExchange.Redis configuration string of this server.</summary>
    public string Configuration => $"127.0.0.1:{Port}";

    public bool IsRunning => _process is { HasExited: false };

    /// <summary>Starts a server on a free port (for a cluster node, also with the cluster bus port free), with extra redis-server arguments.</summary>
    public static Task<RedisServer> StartAsync(bool clusterNode = false, IReadOnlyList<string>? extraArgs = null) =>
        StartOnFreePortAsync("redis", 5, clusterNode, (port, directory) =>
        {
            string[] extra = clusterNode
                ? ["--cluster-enabled", "yes", "--cluster-config-file", Path.Combine(directory, $"nodes-{port}.conf"), "--cluster-node-timeout", "5000"]
                : [];
            return new RedisServer(port, directory, [.. extra, .. extraArgs ?? []]);
        },
        "Could not start redis-server (is redis-server installed? scripts/test.sh and scripts/benchmark.sh install it).");

    /// <summary>
    /// Starts Microsoft Garnet (the dotnet tool <c>garnet-server</c>, which scripts/test.sh installs into
    /// artifacts/tools/garnet; <c>GARNET_SERVER</c> may name another path) on a free port: Lua on, each script run as
    /// a transaction (atomic, as in Redis), no AOF, no checkpoints, small memory. With <paramref name="luaTransactionMode"/>
    /// false, without <c>--lua-transaction-mode true</c>: scripts are not atomic (what the store refuses at connect).
    /// </summary>
    public static Task<RedisServer> StartGarnetAsync(bool luaTransactionMode = true)
    {
        var executable = GarnetExecutable();
        string[] extra = luaTransactionMode ? [executable, "--lua-transaction-mode", "true"] : [executable];
        return StartOnFreePortAsync("garnet", 3, false, (port, directory) => new RedisServer(port, directory, extra, garnet: true),
            $"Could not start Garnet ({executable}) for the Garnet tests (scripts/test.sh installs it).");
    }

    /// <summary>Launches a server on a free port in a new temporary directory, trying again on another port when it fails.</summary>
    private static async Task<RedisServer> StartOnFreePortAsync(string kind, int attempts, bool withClusterBus, Func<int, string, RedisServer> create, string failure)
    {
        Exception? last = null;
        for (var attempt = 0; attempt < attempts; attempt++)
        {
            var port = FreePorts.Next(withClusterBus);
            var directory = Path.Combine(Path.GetTempPath(), $"sessionlocking-{kind}-{port}-{Guid.NewGuid():N}");
            System.IO.Directory.CreateDirectory(directory);
            var server = create(port, directory);
            try
            {
                await server.LaunchAsync();
                return server;
            }
            catch (Exception ex)
            {
                last = ex;
                await server.DisposeAsync();
            }
        }

        throw new InvalidOperationException(failure, last);
    }

    /// <summary>Where garnet-server is: <c>GARNET_SERVER</c>, else artifacts/tools/garnet/garnet-server in the repository.</summary>
    private static string GarnetExecutable()
    {
        if (Environment.GetEnvironmentVariable("GARNET_SERVER") is { Length: > 0 } named)
        {
            return named;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SessionLocking.sln")))
            {
                return Path.Combine(dir.FullName, "artifacts", "tools", "garnet", "garnet-server");
            }
        }

        return "garnet-server";
    }

    /// <summary>Stops the server at once, as a crash would (SIGKILL).</summary>
    public void Kill()
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        process.Dispose();
        _process = null;
        Running.TryRemove(this, out _);
    }

    /// <summary>Starts the server again on the same port (empty: there is no persistence).</summary>
    public Task RestartAsync()
    {
        Kill();
        return LaunchAsync();
    }

    public Task<RespClient> ConnectAsync() => RespClient.ConnectAsync(Port);

    /// <summary>One command on a fresh connection.</summary>
    public async Task<object?> CommandAsync(params string[] args)
    {
        using var client = await ConnectAsync();
        return await client.CommandAsync(args);
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await Task.Yield();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private async Task LaunchAsync()
    {
        var start = new ProcessStartInfo(_garnet ? _extraArgs[0] : "redis-server")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        string[] args = _garnet
            ? ["--port", Port.ToString(), "--bind", "127.0.0.1", "--lua", "true", .. _extraArgs[1..],
                "--aof", "false", "--recover", "false", "--storage-tier", "false", "--memory", "64m", "--index", "1m",
                "--logger-level", "Warning"] // no --logdir: Garnet refuses it without tiered storage; the working directory is ours
            : ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", Directory, "--logfile", Path.Combine(Directory, "redis.log"), "--daemonize", "no", .. _extraArgs];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{Name} did not start.");
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        _process = process;
        Running[this] = true;

        var wait = TimeSpan.FromSeconds(_garnet ? 30 : 10); // Garnet is a .NET program: it starts more slowly.
        var deadline = DateTime.UtcNow + wait;
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{Name} on port {Port} exited with {process.ExitCode}: {ReadLog()}");
            }

            try
            {
                using var client = await RespClient.ConnectAsync(Port);
                if (await client.StringAsync("PING") == "PONG")
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"{Name} on port {Port} did not answer PING within {wait.TotalSeconds} s: {ReadLog()}", ex);
                }
            }

            await Task.Delay(20);
        }
    }

    private string Name => _garnet ? "garnet-server" : "redis-server";

    private void Keep(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            if (_output.Length < 64_000)
            {
                _output.AppendLine(line);
            }
        }
    }

    private string ReadLog()
    {
        if (_garnet)
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }

        try
        {
            return File.ReadAllText(Path.Combine(Directory, "redis.log"));
        }
        catch (IOException)
        {
            return "(no log)";
        }
    }
}
