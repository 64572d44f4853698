using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SessionLocking.TestUtilities;

/// <summary>
/// A minimal RESP2 client for the tests and the benchmarks: inspects Redis (keys, hashes, TTLs, INFO, MONITOR)
/// independently of the client library the store uses, so what is measured or asserted does not depend on what is
/// under test. Commands on one connection are serialized; a connection turned into a MONITOR feed
/// (<see cref="StartMonitorAsync"/>) only reads from then on.
/// </summary>
public sealed class RespClient : IDisposable, IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly SemaphoreSlim _gate = new(1, 1);
    private int _start;
    private int _end;

    private RespClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The local port of this connection, as Redis shows it in MONITOR lines and CLIENT LIST.</summary>
    public int LocalPort => ((IPEndPoint)_tcp.Client.LocalEndPoint!).Port;

    /// <summary>Connects to a server on the loopback address.</summary>
    public static Task<RespClient> ConnectAsync(int port, CancellationToken cancellationToken = default) =>
        ConnectAsync("127.0.0.1", port, cancellationToken);

    public static async Task<RespClient> ConnectAsync(string host, int port, CancellationToken cancellationToken = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(host, port, cancellationToken);
        }
        catch
        {
            tcp.Dispose();
            throw;
        }

        return new RespClient(tcp);
    }

    /// <summary>
    /// Sends one command and reads its reply: <see cref="string"/> (simple string), <see cref="long"/> (integer),
    /// <see cref="byte"/>[] or null (bulk string), <see cref="object"/>?[] or null (array). An error reply throws
    /// <see cref="InvalidOperationException"/>.
    /// </summary>
    public async Task<object?> CommandAsync(params string[] args)
    {
        await _gate.WaitAsync();
        try
        {
            await WriteAsync(args);
            return await ReadAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A command whose reply is text (simple or bulk string, UTF-8), or null.</summary>
    public async Task<string?> StringAsync(params string[] args) =>
        await CommandAsync(args) switch
        {
            null => null,
            byte[] bulk => Encoding.UTF8.GetString(bulk),
            var other => other.ToString(),
        };

    /// <summary>A command whose reply is an integer.</summary>
    public async Task<long> IntegerAsync(params string[] args) => (long)(await CommandAsync(args))!;

    /// <summary>A hash as name → UTF-8 string.</summary>
    public async Task<Dictionary<string, string>> HashAsync(string key)
    {
        var items = (object?[])(await CommandAsync("HGETALL", key))!;
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < items.Length; i += 2)
        {
            map[Encoding.UTF8.GetString((byte[])items[i]!)] = Encoding.UTF8.GetString((byte[])items[i + 1]!);
        }

        return map;
    }

    /// <summary>The keys matching <paramref name="pattern"/> (KEYS), in ordinal order.</summary>
    public async Task<string[]> KeysAsync(string pattern)
    {
        var items = (object?[])(await CommandAsync("KEYS", pattern))!;
        return items.Select(i => Encoding.UTF8.GetString((byte[])i!)).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>One INFO section as name → value (section headers and blank lines left out).</summary>
    public async Task<Dictionary<string, string>> InfoAsync(string section)
    {
        var text = await StringAsync("INFO", section) ?? string.Empty;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && !line.StartsWith('#'))
            {
                result[line[..colon]] = line[(colon + 1)..];
            }
        }

        return result;
    }

    /// <summary>INFO commandstats as command → calls.</summary>
    public async Task<Dictionary<string, long>> CommandStatsAsync()
    {
        const string Prefix = "cmdstat_";
        var stats = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, value) in await InfoAsync("commandstats"))
        {
            if (name.StartsWith(Prefix, StringComparison.Ordinal))
            {
                var calls = value.Split(',').First(p => p.StartsWith("calls=", StringComparison.Ordinal))["calls=".Length..];
                stats[name[Prefix.Length..]] = long.Parse(calls, CultureInfo.InvariantCulture);
            }
        }

        return stats;
    }

    /// <summary>Redis's total_net_input_bytes and total_net_output_bytes, from one INFO call.</summary>
    public async Task<(long In, long Out)> NetBytesAsync()
    {
        var stats = await InfoAsync("stats");
        return (long.Parse(stats["total_net_input_bytes"], CultureInfo.InvariantCulture),
            long.Parse(stats["total_net_output_bytes"], CultureInfo.InvariantCulture));
    }

    /// <summary>Turns this connection into a MONITOR feed; read it with <see cref="ReadMonitorLineAsync"/>.</summary>
    public async Task StartMonitorAsync()
    {
        var ok = await StringAsync("MONITOR");
        if (ok != "OK")
        {
            throw new InvalidOperationException($"MONITOR answered {ok}");
        }
    }

    /// <summary>The next line of a MONITOR feed (<see cref="StartMonitorAsync"/>).</summary>
    public Task<string> ReadMonitorLineAsync(CancellationToken cancellationToken = default) => ReadLineAsync(cancellationToken);

    /// <summary>Turns this connection into a MONITOR feed: each line goes to <paramref name="onLine"/> until disposed.</summary>
    public async Task MonitorAsync(Action<string> onLine)
    {
        await StartMonitorAsync();
        _ = Task.Run(async () =>
        {
            try
            {
                while (true)
                {
                    onLine(await ReadLineAsync());
                }
            }
            catch (Exception)
            {
                // Closed.
            }
        });
    }

    public void Dispose()
    {
        _tcp.Dispose();
        _gate.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task WriteAsync(string[] args)
    {
        var builder = new StringBuilder();
        builder.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            builder.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        await _stream.WriteAsync(Encoding.UTF8.GetBytes(builder.ToString()));
    }

    private async Task<object?> ReadAsync()
    {
        var line = await ReadLineAsync();
        switch (line[0])
        {
            case '+':
                return line[1..];
            case '-':
                throw new InvalidOperationException("Redis error: " + line[1..]);
            case ':':
                return long.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
            case '$':
            {
                var length = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (length < 0)
                {
                    return null;
                }

                var data = new byte[length];
                var read = 0;
                while (read < length)
                {
                    await FillAsync();
                    var n = Math.Min(length - read, _end - _start);
                    Array.Copy(_buffer, _start, data, read, n);
                    _start += n;
                    read += n;
                }

                await ReadLineAsync(); // the CRLF after the data
                return data;
            }

            case '*':
            {
                var count = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (count < 0)
                {
                    return null;
                }

                var items = new object?[count];
                for (var i = 0; i < count; i++)
                {
                    items[i] = await ReadAsync();
                }

                return items;
            }

            default:
                throw new InvalidOperationException("Unexpected RESP line: " + line);
        }
    }

    /// <summary>One line without its CRLF.</summary>
    private async Task<string> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        var bytes = new List<byte>();
        while (true)
        {
            await FillAsync(cancellationToken);
            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                bytes.AddRange(span[..lf]);
                _start += lf + 1;
                if (bytes.Count > 0 && bytes[^1] == '\r')
                {
                    bytes.RemoveAt(bytes.Count - 1);
                }

                return Encoding.UTF8.GetString(bytes.ToArray());
            }

            bytes.AddRange(span);
            _start = _end;
        }
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken = default)
    {
        if (_start < _end)
        {
            return;
        }

        _start = 0;
        _end = await _stream.ReadAsync(_buffer, cancellationToken);
        if (_end == 0)
        {
            throw new EndOfStreamException("Redis closed the connection.");
        }
    }
}
