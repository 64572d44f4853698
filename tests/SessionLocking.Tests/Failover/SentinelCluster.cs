using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using StackExchange.Redis;

namespace SessionLocking.Tests.Failover;

/// <summary>
/// A Sentinel-managed Redis on loopback: one primary, one replica (<c>redis-server</c>) and three
/// <c>redis-sentinel</c> processes watching them as <see cref="ServiceName"/>, each on a free port in a temporary
/// directory, without persistence. Everything is killed (and the directory deleted) when disposed, and at the latest
/// when the test process exits. <c>scripts/test.sh</c> installs redis-sentinel when missing.
/// </summary>
public sealed class SentinelCluster : IAsyncDisposable
{
    public const string ServiceName = "mymaster";

    /// <summary>How long sentinels wait without an answer before they call a server down.</summary>
    public static readonly TimeSpan DownAfter = TimeSpan.FromMilliseconds(1500);

    private static readonly ConcurrentDictionary<Process, bool> Running = new();
    private readonly string _directory;
    private readonly List<Process> _sentinels = [];

    static SentinelCluster()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (var process in Running.Keys)
            {
                KillQuietly(process);
            }
        };
    }

    private SentinelCluster(string directory, Node first, Node second)
    {
        _directory = directory;
        Nodes = [first, second];
    }

    /// <summary>The two data nodes; which one is the primary changes with a failover.</summary>
    public IReadOnlyList<Node> Nodes { get; }

    public IReadOnlyList<int> SentinelPorts { get; private set; } = [];

    /// <summary>The configuration string of the store: the three sentinels and the service name.</summary>
    public string Configuration => string.Join(",", SentinelPorts.Select(p => $"127.0.0.1:{p}")) + $",serviceName={ServiceName}";

    public static async Task<SentinelCluster> StartAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"sessionlocking-sentinel-{Guid.NewGuid():N}");
        Directory.CreateDirectory(directory);
        var primary = new Node(FreePorts.Next(), directory);
        var replica = new Node(FreePorts.Next(), directory);
        var cluster = new SentinelCluster(directory, primary, replica);
        try
        {
            await primary.StartAsync(replicaOf: null);
            await replica.StartAsync(replicaOf: primary.Port);
            await cluster.UntilAsync(async () => await replica.InfoFieldAsync("replication", "master_link_status") == "up", TimeSpan.FromSeconds(20), "the replica is in sync");
            var ports = new List<int>();
            for (var i = 0; i < 3; i++)
            {
                var port = FreePorts.Next();
                ports.Add(port);
                var config = Path.Combine(directory, $"sentinel-{port}.conf");
                await File.WriteAllLinesAsync(config,
                [
                    $"port {port}",
                    "bind 127.0.0.1",
                    "daemonize no",
                    $"dir {directory}",
                    $"logfile {Path.Combine(directory, $"sentinel-{port}.log")}",
                    $"sentinel monitor {ServiceName} 127.0.0.1 {primary.Port} 2",
                    $"sentinel down-after-milliseconds {ServiceName} {(int)DownAfter.TotalMilliseconds}",
                    $"sentinel failover-timeout {ServiceName} 4000",
                    $"sentinel parallel-syncs {ServiceName} 1",
                ]);
                cluster._sentinels.Add(Launch("redis-sentinel", [config], directory));
            }

            cluster.SentinelPorts = ports;

            // Every sentinel knows the replica and the other two sentinels, so a failover can be agreed and has a candidate.
            foreach (var port in ports)
            {
                await cluster.UntilAsync(async () =>
                {
                    var master = await SentinelMasterAsync(port);
                    return master.TryGetValue("num-slaves", out var slaves) && slaves == "1"
                        && master.TryGetValue("num-other-sentinels", out var others) && others == "2";
                }, TimeSpan.FromSeconds(30), $"sentinel {port} sees the replica and the other sentinels");
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>The port of the primary as the sentinel on <paramref name="sentinelPort"/> names it, or null when it cannot say.</summary>
    public static async Task<int?> PrimaryPortAsync(int sentinelPort)
    {
        try
        {
            using var connection = await ConnectSentinelAsync(sentinelPort);
            var reply = await connection.GetServer("127.0.0.1", sentinelPort).ExecuteAsync("SENTINEL", "get-master-addr-by-name", ServiceName);
            var parts = (RedisResult[])reply!;
            return parts.Length == 2 ? int.Parse((string)parts[1]!) : null;
        }
        catch (Exception ex) when (ex is RedisException or InvalidCastException or FormatException)
        {
            return null;
        }
    }

    /// <summary>The node the sentinels name as primary now (all three agree), or null.</summary>
    public async Task<Node?> AgreedPrimaryAsync()
    {
        var ports = new HashSet<int?>();
        foreach (var port in SentinelPorts)
        {
            ports.Add(await PrimaryPortAsync(port));
        }

        return ports.Count == 1 && ports.First() is { } agreed ? Nodes.FirstOrDefault(n => n.Port == agreed) : null;
    }

    public async Task UntilAsync(Func<Task<bool>> condition, TimeSpan within, string what)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition())
                {
                    return;
                }
            }
            catch (Exception ex) when (ex is RedisException or SocketException or IOException or TimeoutException)
            {
            }

            if (clock.Elapsed > within)
            {
                throw new TimeoutException($"Not true within {within.TotalSeconds} s: {what}. Logs: {Logs()}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>The tail of every log of the cluster, for failure messages.</summary>
    public string Logs()
    {
        var parts = new List<string>();
        foreach (var file in Directory.Exists(_directory) ? Directory.GetFiles(_directory, "*.log") : [])
        {
            try
            {
                var lines = File.ReadAllLines(file);
                parts.Add($"--- {Path.GetFileName(file)}\n" + string.Join("\n", lines.TakeLast(15)));
            }
            catch (IOException)
            {
            }
        }

        return string.Join("\n", parts);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var sentinel in _sentinels)
        {
            KillQuietly(sentinel);
        }

        foreach (var node in Nodes)
        {
            node.Kill();
        }

        await Task.Yield();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static async Task<ConnectionMultiplexer> ConnectSentinelAsync(int port)
    {
        var options = new ConfigurationOptions
        {
            EndPoints = { { "127.0.0.1", port } },
            CommandMap = CommandMap.Sentinel,
            AbortOnConnectFail = true,
            ConnectTimeout = 2000,
            AsyncTimeout = 2000,
        };
        return await ConnectionMultiplexer.ConnectAsync(options);
    }

    private static async Task<Dictionary<string, string>> SentinelMasterAsync(int port)
    {
        using var connection = await ConnectSentinelAsync(port);
        var reply = (RedisResult[])(await connection.GetServer("127.0.0.1", port).ExecuteAsync("SENTINEL", "master", ServiceName))!;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < reply.Length; i += 2)
        {
            map[(string)reply[i]!] = (string)reply[i + 1]!;
        }

        return map;
    }

    private static Process Launch(string file, IEnumerable<string> args, string directory)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start (scripts/test.sh installs redis-server and redis-sentinel).");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Running[process] = true;
        return process;
    }

    private static void KillQuietly(Process process)
    {
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

        Running.TryRemove(process, out _);
    }

    [DllImport("libc", SetLastError = true, EntryPoint = "kill")]
    private static extern int SendSignal(int pid, int signal);

    /// <summary>One redis-server of the cluster.</summary>
    public sealed class Node(int port, string directory)
    {
        private const int SigStop = 19;
        private const int SigCont = 18;
        private Process? _process;

        public int Port { get; } = port;

        public string EndPoint => $"127.0.0.1:{Port}";

        public bool IsRunning => _process is { HasExited: false };

        /// <summary>Starts the server (again, on the same port, empty), as a replica of <paramref name="replicaOf"/> when given.</summary>
        public async Task StartAsync(int? replicaOf)
        {
            Kill();
            var dir = Path.Combine(directory, $"node-{Port}");
            Directory.CreateDirectory(dir);
            List<string> args = ["--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                "--dir", dir, "--logfile", Path.Combine(directory, $"redis-{Port}.log"), "--daemonize", "no", "--repl-diskless-sync-delay", "0"];
            if (replicaOf is { } primary)
            {
                args.AddRange(["--replicaof", "127.0.0.1", primary.ToString()]);
            }

            _process = Launch("redis-server", args, dir);
            var clock = Stopwatch.StartNew();
            while (!await PingsAsync())
            {
                if (_process.HasExited)
                {
                    throw new InvalidOperationException($"redis-server on {Port} exited with {_process.ExitCode}.");
                }

                if (clock.Elapsed > TimeSpan.FromSeconds(10))
                {
                    throw new InvalidOperationException($"redis-server on {Port} did not answer PING within 10 s.");
                }

                await Task.Delay(20);
            }
        }

        /// <summary>True when the server answers PING on a plain socket (no client library: no connect retries to wait for).</summary>
        private async Task<bool> PingsAsync()
        {
            try
            {
                using var tcp = new TcpClient { NoDelay = true };
                using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await tcp.ConnectAsync(IPAddress.Loopback, Port, limit.Token);
                var stream = tcp.GetStream();
                await stream.WriteAsync("PING\r\n"u8.ToArray(), limit.Token);
                var buffer = new byte[7];
                var read = await stream.ReadAsync(buffer, limit.Token);
                return read >= 5 && System.Text.Encoding.ASCII.GetString(buffer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
            }
            catch (Exception ex) when (ex is SocketException or IOException or OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>An admin connection to this server alone (not through the sentinels).</summary>
        public async Task<ConnectionMultiplexer> ConnectAsync() =>
            await ConnectionMultiplexer.ConnectAsync(new ConfigurationOptions
            {
                EndPoints = { { "127.0.0.1", Port } },
                AllowAdmin = true,
                AbortOnConnectFail = true,
                ConnectTimeout = 5000,
                AsyncTimeout = 5000,
            });

        public async Task<RedisResult> CommandAsync(string command, params object[] args)
        {
            await using var connection = await ConnectAsync();
            return await connection.GetServer("127.0.0.1", Port).ExecuteAsync(command, args);
        }

        /// <summary>Waits (at most 10 s) until <paramref name="replica"/> has everything this primary has written.</summary>
        public async Task UntilReplicatedToAsync(Node replica)
        {
            var target = long.Parse((await InfoFieldAsync("replication", "master_repl_offset"))!);
            var clock = Stopwatch.StartNew();
            while (long.Parse((await replica.InfoFieldAsync("replication", "slave_repl_offset")) ?? "0") < target)
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), "the replica did not catch up");
                await Task.Delay(20);
            }
        }

        /// <summary>One field of INFO <paramref name="section"/>.</summary>
        public async Task<string?> InfoFieldAsync(string section, string field)
        {
            var text = (string)(await CommandAsync("INFO", section))!;
            foreach (var line in text.Split("\r\n"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return line[(field.Length + 1)..];
                }
            }

            return null;
        }

        /// <summary>Stops the server at once, as a crash would (SIGKILL).</summary>
        public void Kill()
        {
            if (_process is { } process)
            {
                KillQuietly(process);
                process.Dispose();
                _process = null;
            }
        }

        /// <summary>Freezes the process (SIGSTOP): it neither answers nor reads its replication stream until <see cref="Resume"/>.</summary>
        public void Freeze() => Signal(SigStop);

        public void Resume() => Signal(SigCont);

        private void Signal(int signal)
        {
            if (_process is { HasExited: false } process && SendSignal(process.Id, signal) != 0)
            {
                throw new InvalidOperationException($"kill({process.Id}, {signal}) failed: {Marshal.GetLastPInvokeError()}");
            }
        }
    }
}
