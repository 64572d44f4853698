using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SessionLocking.Tests.Infrastructure;
using SessionLocking.Tests.Redis;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Fault tests whose assertions read process-wide numbers (thread pool, GC heap) or that load the machine on
/// purpose: they run alone, after the parallel part of the run, so other tests neither disturb them nor are disturbed.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialFaults
{
    public const string Name = "Faults (serial)";
}

/// <summary>Shared helpers of the fault suite.</summary>
internal static partial class FaultKit
{
    /// <summary>The form of every key and channel the store may create: one session's hash tag, then a known suffix.</summary>
    public static Regex KeyForm(string prefix) =>
        new("^\\{" + Regex.Escape(prefix) + ":[a-z0-5]{24}\\}:(session|lock|released)$", RegexOptions.CultureInvariant);

    /// <summary>The session hash of one session (items as fields "i:" + name, metadata "timeout" and "fence").</summary>
    public static string SessionKey(string prefix, string sessionId) => "{" + prefix + ":" + sessionId + "}:session";

    /// <summary>The lock key of one session.</summary>
    public static string LockKey(string prefix, string sessionId) => "{" + prefix + ":" + sessionId + "}:lock";

    /// <summary>The items of a session as Redis holds them: the session hash's "i:" fields, without the prefix.</summary>
    public static async Task<Dictionary<string, string>> ItemsAsync(RespClient client, string prefix, string sessionId) =>
        (await client.HashAsync(SessionKey(prefix, sessionId)))
            .Where(p => p.Key.StartsWith("i:", StringComparison.Ordinal))
            .ToDictionary(p => p.Key[2..], p => p.Value, StringComparer.Ordinal);

    /// <summary>A real Kestrel host on the Redis store with the fault endpoints mapped.</summary>
    public static Task<TestHost> StartHostAsync(
        string redisConfiguration,
        string prefix,
        Action<LockedSessionOptions>? options = null,
        TimeSpan? operationTimeout = null,
        WriterTracker? tracker = null,
        Action<WebApplication>? beforeSession = null,
        Action<WebApplication>? app = null,
        LogLevel minimumLogLevel = LogLevel.Information) =>
        TestHost.StartAsync(
            options,
            store => store.AddRedisStore(o =>
            {
                o.Configuration = redisConfiguration;
                o.KeyPrefix = prefix;
                o.OperationTimeout = operationTimeout ?? TimeSpan.FromSeconds(1);
                o.ConnectTimeout = TimeSpan.FromSeconds(1);
            }),
            services =>
            {
                services.Configure<LoggerFilterOptions>(o => o.MinLevel = minimumLogLevel);
                if (tracker is not null)
                {
                    services.AddSingleton(tracker);
                }
            },
            a =>
            {
                a.MapFaultEndpoints();
                app?.Invoke(a);
            },
            beforeSession);

    public static async Task Until(Func<bool> condition, TimeSpan? within = null, string? what = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Not true within {limit.TotalSeconds} s: {what ?? "condition"}");
            }

            await Task.Delay(5);
        }
    }

    public static async Task UntilAsync(Func<Task<bool>> condition, TimeSpan? within = null, string? what = null)
    {
        var deadline = Stopwatch.StartNew();
        var limit = within ?? TimeSpan.FromSeconds(30);
        while (!await condition())
        {
            if (deadline.Elapsed > limit)
            {
                throw new TimeoutException($"Not true within {limit.TotalSeconds} s: {what ?? "condition"}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>Lock keys of one prefix with their remaining TTL in ms.</summary>
    public static async Task<Dictionary<string, long>> LockKeysAsync(RedisServer server, string prefix)
    {
        using var client = await server.ConnectAsync();
        var locks = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var key in await client.KeysAsync("{" + prefix + ":*}:lock"))
        {
            locks[key] = await client.IntegerAsync("PTTL", key);
        }

        return locks;
    }

    /// <summary>Every key of the server, by SCAN (not KEYS, so it also works on a busy server).</summary>
    public static async Task<List<string>> ScanAllKeysAsync(RedisServer server)
    {
        using var client = await server.ConnectAsync();
        var keys = new List<string>();
        var cursor = "0";
        do
        {
            var reply = (object?[])(await client.CommandAsync("SCAN", cursor, "COUNT", "1000"))!;
            cursor = Encoding.UTF8.GetString((byte[])reply[0]!);
            keys.AddRange(((object?[])reply[1]!).Select(k => Encoding.UTF8.GetString((byte[])k!)));
        }
        while (cursor != "0");
        return keys;
    }

    /// <summary>Sends a command on a connection of its own without waiting for the answer (DEBUG SLEEP blocks it).</summary>
    public static Task FireAsync(RedisServer server, params string[] command) => Task.Run(async () =>
    {
        try
        {
            using var client = await server.ConnectAsync();
            await client.CommandAsync(command);
        }
        catch (Exception ex) when (ex is IOException or SocketException or InvalidOperationException)
        {
            // SHUTDOWN closes the connection without an answer.
        }
    });

    /// <summary>What a client saw for one request: a status code, or an exception (aborted connection, client timeout).</summary>
    public sealed record Outcome(int? Status, string Body, string? Error, TimeSpan Elapsed, string? Counter = null)
    {
        public bool Failed => Status is null;

        public override string ToString() => (Status?.ToString() ?? "error " + Error) + $" after {Elapsed.TotalMilliseconds:0} ms" + (Body.Length > 0 ? $" '{Body}'" : "");
    }

    public static async Task<Outcome> SendAsync(SessionClient client, HttpMethod method, string path, CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            using var response = await client.SendAsync(method, path, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            var counter = response.Headers.TryGetValues(FaultEndpoints.CounterHeader, out var values) ? values.First() : null;
            return new Outcome((int)response.StatusCode, body, null, clock.Elapsed, counter);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException or OperationCanceledException)
        {
            return new Outcome(null, string.Empty, ex.GetType().Name + ": " + ex.Message, clock.Elapsed);
        }
    }

    /// <summary>Samples the thread pool while a fault lasts.</summary>
    public sealed class ThreadPoolWatch : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;

        public ThreadPoolWatch()
        {
            BaselineThreads = ThreadPool.ThreadCount;
            _loop = Task.Run(async () =>
            {
                while (!_stop.IsCancellationRequested)
                {
                    MaxThreads = Math.Max(MaxThreads, ThreadPool.ThreadCount);
                    MaxPending = Math.Max(MaxPending, ThreadPool.PendingWorkItemCount);
                    try
                    {
                        await Task.Delay(20, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
        }

        public int BaselineThreads { get; }

        public int MaxThreads { get; private set; }

        public long MaxPending { get; private set; }

        public override string ToString() => $"thread pool: {BaselineThreads} threads before, at most {MaxThreads} threads and {MaxPending} queued work items during the fault";

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
            }

            await _loop;
        }
    }

    /// <summary>
    /// Probes an endpoint that uses no session (no cookie: no store call at all) every 50 ms while a fault lasts:
    /// if store failures blocked threads or the request pipeline, these would slow down too.
    /// </summary>
    public sealed class Prober : IAsyncDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _loop;
        private readonly List<Outcome> _outcomes = new();

        public Prober(Uri address)
        {
            _loop = Task.Run(async () =>
            {
                using var client = new SessionClient(address, TimeSpan.FromSeconds(30));
                while (!_stop.IsCancellationRequested)
                {
                    var outcome = await SendAsync(client, HttpMethod.Get, "/disabled");
                    lock (_outcomes)
                    {
                        _outcomes.Add(outcome);
                    }

                    try
                    {
                        await Task.Delay(50, _stop.Token);
                    }
                    catch (OperationCanceledException)
                    {
                    }
                }
            });
        }

        public IReadOnlyList<Outcome> Outcomes
        {
            get
            {
                lock (_outcomes)
                {
                    return _outcomes.ToArray();
                }
            }
        }

        public override string ToString()
        {
            var all = Outcomes;
            return all.Count == 0
                ? "no probe"
                : $"{all.Count} probes of a non-session endpoint, {all.Count(o => o.Status == 200)} OK, slowest {all.Max(o => o.Elapsed.TotalMilliseconds):0} ms";
        }

        public async ValueTask DisposeAsync()
        {
            if (!_stop.IsCancellationRequested)
            {
                await _stop.CancelAsync();
            }

            await _loop;
        }
    }
}

/// <summary>
/// An HTTP/1.x exchange over a raw socket that keeps every byte the server sent until it closed, so a test can
/// tell a complete response (Content-Length reached, or the final zero-length chunk) from a cut-off one, which an
/// HttpClient only reports as an exception.
/// </summary>
internal static class RawExchange
{
    public sealed record Result(int Status, IReadOnlyDictionary<string, string> Headers, string Body, bool Complete, string Framing, int BytesReceived)
    {
        public override string ToString() => $"{Status} {Framing} complete={Complete} body='{Body}' ({BytesReceived} bytes)";
    }

    public static async Task<Result> SendAsync(Uri address, string method, string path, string? sessionId, string version = "HTTP/1.1", TimeSpan? timeout = null)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var request = new StringBuilder($"{method} {path} {version}\r\nHost: {address.Host}:{address.Port}\r\nContent-Length: 0\r\n");
        if (sessionId is not null)
        {
            request.Append($"Cookie: {SessionClient.CookieName}={sessionId}\r\n");
        }

        request.Append(version == "HTTP/1.1" ? "Connection: close\r\n\r\n" : "\r\n");
        await stream.WriteAsync(Encoding.ASCII.GetBytes(request.ToString()));

        var received = new MemoryStream();
        var buffer = new byte[8192];
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer, limit.Token)) > 0)
            {
                received.Write(buffer, 0, read);
            }
        }
        catch (IOException)
        {
            // A reset ends the exchange like a close; what arrived before it is kept.
        }

        return Parse(received.ToArray());
    }

    private static Result Parse(byte[] bytes)
    {
        var text = Encoding.Latin1.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        if (end < 0)
        {
            return new Result(0, new Dictionary<string, string>(), string.Empty, false, "no head", bytes.Length);
        }

        var lines = text[..end].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':');
            headers[line[..colon].Trim()] = line[(colon + 1)..].Trim();
        }

        var rest = text[(end + 4)..];
        if (headers.TryGetValue("Transfer-Encoding", out var encoding) && encoding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            var body = new StringBuilder();
            var position = 0;
            while (true)
            {
                var lineEnd = rest.IndexOf("\r\n", position, StringComparison.Ordinal);
                if (lineEnd < 0)
                {
                    return new Result(status, headers, body.ToString(), false, "chunked", bytes.Length);
                }

                var size = Convert.ToInt32(rest[position..lineEnd].Split(';')[0].Trim(), 16);
                position = lineEnd + 2;
                if (size == 0)
                {
                    // The last chunk, then (no trailers) the empty line that ends the message.
                    var complete = rest.IndexOf("\r\n", position, StringComparison.Ordinal) >= 0;
                    return new Result(status, headers, body.ToString(), complete, "chunked", bytes.Length);
                }

                if (position + size + 2 > rest.Length)
                {
                    body.Append(rest[position..Math.Min(rest.Length, position + size)]);
                    return new Result(status, headers, body.ToString(), false, "chunked", bytes.Length);
                }

                body.Append(rest, position, size);
                position += size + 2;
            }
        }

        if (headers.TryGetValue("Content-Length", out var length))
        {
            var expected = int.Parse(length);
            return new Result(status, headers, rest[..Math.Min(rest.Length, expected)], rest.Length >= expected, "content-length", bytes.Length);
        }

        // Delimited by the end of the connection: a cut-off body looks exactly like a complete one.
        return new Result(status, headers, rest, true, "close-delimited", bytes.Length);
    }
}
