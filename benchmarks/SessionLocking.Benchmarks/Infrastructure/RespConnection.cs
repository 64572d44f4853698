using System.Globalization;
using System.Net.Sockets;
using System.Text;

namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>
/// A tiny RESP2 client for what the benchmarks ask Redis about its own counters (INFO, MONITOR, FLUSHALL),
/// independent of the client library the store uses.
/// </summary>
internal sealed class RespConnection : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Stream _stream;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;

    private RespConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
    }

    /// <summary>The local port of this connection, as Redis sees it in MONITOR lines.</summary>
    public int LocalPort => ((System.Net.IPEndPoint)_tcp.Client.LocalEndPoint!).Port;

    public static async Task<RespConnection> ConnectAsync(string host, int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(host, port);
        return new RespConnection(tcp);
    }

    public async Task<object?> CommandAsync(params string[] args)
    {
        await SendAsync(args);
        return await ReadAsync();
    }

    public async Task SendAsync(params string[] args)
    {
        var sb = new StringBuilder();
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var arg in args)
        {
            sb.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        }

        var bytes = Encoding.UTF8.GetBytes(sb.ToString());
        await _stream.WriteAsync(bytes);
    }

    /// <summary>INFO section parsed into name/value pairs.</summary>
    public async Task<Dictionary<string, string>> InfoAsync(string section)
    {
        var text = (string?)await CommandAsync("INFO", section) ?? string.Empty;
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split("\r\n"))
        {
            var colon = line.IndexOf(':');
            if (colon > 0 && !line.StartsWith('#'))
            {
                result[line[..colon]] = line[(colon + 1)..];
            }
        }

        return result;
    }

    /// <summary>Redis's total_net_input_bytes and total_net_output_bytes, from one INFO call.</summary>
    public async Task<(long In, long Out)> NetBytesAsync()
    {
        var stats = await InfoAsync("stats");
        return (long.Parse(stats["total_net_input_bytes"], CultureInfo.InvariantCulture), long.Parse(stats["total_net_output_bytes"], CultureInfo.InvariantCulture));
    }

    public async Task<object?> ReadAsync()
    {
        var line = await ReadLineAsync();
        switch (line[0])
        {
            case '+':
                return line[1..];
            case '-':
                throw new InvalidOperationException("Redis: " + line[1..]);
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

                await ReadLineAsync();
                return Encoding.UTF8.GetString(data);
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

    public async Task<string> ReadLineAsync(CancellationToken cancellationToken = default)
    {
        var sb = new StringBuilder();
        while (true)
        {
            await FillAsync(cancellationToken);
            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                sb.Append(Encoding.UTF8.GetString(span[..lf]));
                _start += lf + 1;
                if (sb.Length > 0 && sb[^1] == '\r')
                {
                    sb.Length--;
                }

                return sb.ToString();
            }

            sb.Append(Encoding.UTF8.GetString(span));
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
            throw new IOException("Redis closed the connection.");
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        return ValueTask.CompletedTask;
    }
}
