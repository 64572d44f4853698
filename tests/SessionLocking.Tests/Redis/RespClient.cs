using System.Net.Sockets;
using System.Text;

namespace SessionLocking.Tests.Redis;

/// <summary>
/// A minimal RESP client for tests: inspects Redis (keys, TTLs, INFO, MONITOR) independently of the client
/// library the store uses, so assertions do not depend on what is under test.
/// </summary>
public sealed class RespClient : IDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly BufferedStream _reader;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private RespClient(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new BufferedStream(_stream, 64 * 1024);
    }

    public static async Task<RespClient> ConnectAsync(int port, CancellationToken cancellationToken = default)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync("127.0.0.1", port, cancellationToken);
        return new RespClient(tcp);
    }

    /// <summary>Sends one command and reads its reply: string (simple), long, byte[]? (bulk), object?[] (array); errors throw.</summary>
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

    public async Task<string?> StringAsync(params string[] args) =>
        await CommandAsync(args) switch
        {
            null => null,
            byte[] bulk => Encoding.UTF8.GetString(bulk),
            var other => other.ToString(),
        };

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

    public async Task<string[]> KeysAsync(string pattern)
    {
        var items = (object?[])(await CommandAsync("KEYS", pattern))!;
        return items.Select(i => Encoding.UTF8.GetString((byte[])i!)).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>INFO commandstats as command → calls.</summary>
    public async Task<Dictionary<string, long>> CommandStatsAsync()
    {
        var text = await StringAsync("INFO", "commandstats") ?? string.Empty;
        var stats = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal))
            {
                continue;
            }

            var colon = line.IndexOf(':');
            var name = line["cmdstat_".Length..colon];
            var calls = line[(colon + 1)..].Split(',').First(p => p.StartsWith("calls=", StringComparison.Ordinal))["calls=".Length..];
            stats[name] = long.Parse(calls);
        }

        return stats;
    }

    /// <summary>Turns this connection into a MONITOR feed: each line goes to <paramref name="onLine"/> until disposed.</summary>
    public async Task MonitorAsync(Action<string> onLine)
    {
        await WriteAsync(["MONITOR"]);
        var ok = await ReadAsync();
        if (ok as string != "OK")
        {
            throw new InvalidOperationException($"MONITOR answered {ok}");
        }

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
                return long.Parse(line[1..]);
            case '$':
            {
                var length = int.Parse(line[1..]);
                if (length < 0)
                {
                    return null;
                }

                var data = new byte[length + 2];
                await _reader.ReadExactlyAsync(data);
                return data[..length];
            }

            case '*':
            {
                var count = int.Parse(line[1..]);
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

    private async Task<string> ReadLineAsync()
    {
        var bytes = new List<byte>();
        var one = new byte[1];
        while (true)
        {
            if (await _reader.ReadAsync(one) == 0)
            {
                throw new EndOfStreamException("Redis closed the connection.");
            }

            if (one[0] == '\n' && bytes.Count > 0 && bytes[^1] == '\r')
            {
                bytes.RemoveAt(bytes.Count - 1);
                return Encoding.UTF8.GetString(bytes.ToArray());
            }

            bytes.Add(one[0]);
        }
    }

    public void Dispose()
    {
        _tcp.Dispose();
        _gate.Dispose();
    }
}
