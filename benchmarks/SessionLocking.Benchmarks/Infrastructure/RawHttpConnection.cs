using System.Net;
using System.Net.Sockets;
using System.Text;

namespace SessionLocking.Benchmarks.Infrastructure;

/// <summary>
/// A minimal HTTP/1.1 keep-alive client on one socket: pre-built request bytes out, status and cookie in. Far
/// cheaper than HttpClient, so on a 2-core machine more of the CPU goes to the server being measured.
/// Handles Content-Length and chunked bodies (Required responses are chunked: the middleware drops Content-Length).
/// </summary>
internal sealed class RawHttpConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly string _host;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private int _start;
    private int _end;
    private readonly StringBuilder _body = new();

    private RawHttpConnection(Socket socket, string host)
    {
        _socket = socket;
        _host = host;
    }

    /// <summary>The cookie ("name=value") to send; taken from the last Set-Cookie seen when <see cref="KeepCookies"/>.</summary>
    public string? Cookie { get; set; }

    public bool KeepCookies { get; set; } = true;

    /// <summary>When true, the body of each response is kept in <see cref="LastBody"/> (off for load).</summary>
    public bool CaptureBody { get; set; }

    public string LastBody { get; private set; } = string.Empty;

    public static async Task<RawHttpConnection> ConnectAsync(Uri address)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Parse(address.Host), address.Port));
        return new RawHttpConnection(socket, address.Authority);
    }

    /// <summary>Request bytes for this connection's host and current cookie.</summary>
    public byte[] Build(string method, string path)
    {
        var sb = new StringBuilder();
        sb.Append(method).Append(' ').Append(path).Append(" HTTP/1.1\r\nHost: ").Append(_host).Append("\r\n");
        if (Cookie is not null)
        {
            sb.Append("Cookie: ").Append(Cookie).Append("\r\n");
        }

        if (method != "GET")
        {
            sb.Append("Content-Length: 0\r\n");
        }

        sb.Append("\r\n");
        return Encoding.ASCII.GetBytes(sb.ToString());
    }

    public async Task<int> SendAsync(string method, string path, CancellationToken cancellationToken = default) =>
        await SendAsync(Build(method, path), cancellationToken);

    /// <summary>Sends one request and reads its whole response; returns the status code.</summary>
    public async Task<int> SendAsync(byte[] request, CancellationToken cancellationToken = default)
    {
        await _socket.SendAsync(request, SocketFlags.None, cancellationToken);
        return await ReadResponseAsync(cancellationToken);
    }

    /// <summary>Only sends (the response is read later with <see cref="ReadResponseAsync"/>).</summary>
    public ValueTask<int> SendOnlyAsync(byte[] request, CancellationToken cancellationToken = default) =>
        _socket.SendAsync(request, SocketFlags.None, cancellationToken);

    public async Task<int> ReadResponseAsync(CancellationToken cancellationToken = default)
    {
        var statusLine = await ReadLineAsync(cancellationToken);
        // "HTTP/1.1 200 OK"
        var status = int.Parse(statusLine.AsSpan(9, 3), System.Globalization.CultureInfo.InvariantCulture);
        long contentLength = -1;
        var chunked = false;
        while (true)
        {
            var line = await ReadLineAsync(cancellationToken);
            if (line.Length == 0)
            {
                break;
            }

            var colon = line.IndexOf(':');
            var name = line.AsSpan(0, colon);
            var value = line.AsSpan(colon + 1).Trim();
            if (name.Equals("content-length", StringComparison.OrdinalIgnoreCase))
            {
                contentLength = long.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
            }
            else if (name.Equals("transfer-encoding", StringComparison.OrdinalIgnoreCase))
            {
                chunked = value.Contains("chunked", StringComparison.OrdinalIgnoreCase);
            }
            else if (KeepCookies && name.Equals("set-cookie", StringComparison.OrdinalIgnoreCase))
            {
                var semicolon = value.IndexOf(';');
                Cookie = (semicolon < 0 ? value : value[..semicolon]).ToString();
            }
        }

        _body.Clear();
        if (chunked)
        {
            while (true)
            {
                var sizeLine = await ReadLineAsync(cancellationToken);
                var size = Convert.ToInt64(sizeLine.Split(';')[0].Trim(), 16);
                await SkipAsync(size + 2, cancellationToken); // the chunk and its CRLF (the last chunk: just CRLF)
                if (size == 0)
                {
                    break;
                }
            }
        }
        else if (contentLength > 0)
        {
            await SkipAsync(contentLength, cancellationToken);
        }

        if (CaptureBody)
        {
            LastBody = chunked ? _body.ToString().Replace("\r\n", string.Empty, StringComparison.Ordinal) : _body.ToString();
        }

        return status;
    }

    private async ValueTask SkipAsync(long count, CancellationToken cancellationToken)
    {
        while (count > 0)
        {
            await FillAsync(cancellationToken);
            var n = (int)Math.Min(count, _end - _start);
            if (CaptureBody)
            {
                _body.Append(Encoding.UTF8.GetString(_buffer, _start, n));
            }

            _start += n;
            count -= n;
        }
    }

    private async ValueTask<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        StringBuilder? sb = null;
        while (true)
        {
            await FillAsync(cancellationToken);
            var span = _buffer.AsSpan(_start, _end - _start);
            var lf = span.IndexOf((byte)'\n');
            if (lf >= 0)
            {
                var lineEnd = lf > 0 && span[lf - 1] == '\r' ? lf - 1 : lf;
                string line;
                if (sb is null)
                {
                    line = Encoding.ASCII.GetString(span[..lineEnd]);
                }
                else
                {
                    sb.Append(Encoding.ASCII.GetString(span[..lf]));
                    line = sb.ToString().TrimEnd('\r');
                }

                _start += lf + 1;
                return line;
            }

            (sb ??= new StringBuilder()).Append(Encoding.ASCII.GetString(span));
            _start = _end;
        }
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_start < _end)
        {
            return;
        }

        _start = 0;
        _end = await _socket.ReceiveAsync(_buffer.AsMemory(), SocketFlags.None, cancellationToken);
        if (_end == 0)
        {
            throw new IOException("The server closed the connection.");
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
