using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// One HTTP/2 request over a raw socket (h2c with prior knowledge), frame by frame, so a test can tell a complete
/// response (a frame with END_STREAM) from one the server cut off (RST_STREAM, GOAWAY or a closed connection),
/// which an HttpClient reports only as an exception, if at all. Needs an endpoint configured for HTTP/2 only:
/// Kestrel does not detect the HTTP/2 preface on a cleartext endpoint that also speaks HTTP/1.1.
/// </summary>
public static class RawHttp2
{
    private const byte Data = 0x0, Headers = 0x1, RstStream = 0x3, Settings = 0x4, Ping = 0x6, GoAway = 0x7, Continuation = 0x9;
    private const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, Priority = 0x20;

    /// <summary>What arrived for the request's stream.</summary>
    /// <param name="Status">The :status of the response head, 0 when no head arrived.</param>
    /// <param name="Complete">True when the stream ended with END_STREAM: the client holds a complete response.</param>
    /// <param name="Ending">How the exchange ended: "end_stream", "rst_stream &lt;code&gt;", "goaway &lt;code&gt;", "closed" or "timeout".</param>
    public sealed record Response(int Status, IReadOnlyList<(string Name, string Value)> Headers, string Body, bool Complete, string Ending)
    {
        public IReadOnlyList<string> SetCookies => Headers.Where(h => h.Name == "set-cookie").Select(h => h.Value).ToArray();

        public override string ToString() => $"{Status} {Ending} complete={Complete} body='{Body}' cookies={SetCookies.Count}";
    }

    public static async Task<Response> SendAsync(Uri address, string method, string path, string? cookie, TimeSpan? timeout = null)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        using var limit = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(30));

        var request = new MemoryStream();
        request.Write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8);
        WriteFrame(request, Settings, 0, 0, []);
        var block = new MemoryStream();
        foreach (var (name, value) in RequestHeaders(address, method, path, cookie))
        {
            // Literal header field without indexing, new name, no Huffman coding.
            block.WriteByte(0x00);
            WriteString(block, name);
            WriteString(block, value);
        }

        WriteFrame(request, Headers, EndHeaders | EndStream, 1, block.ToArray());
        await stream.WriteAsync(request.ToArray(), limit.Token);

        var decoder = new HpackDecoder();
        var headers = new List<(string Name, string Value)>();
        var body = new StringBuilder();
        var headerBlock = new MemoryStream();
        var status = 0;
        try
        {
            while (true)
            {
                var (type, flags, streamId, payload) = await ReadFrameAsync(stream, limit.Token);
                switch (type)
                {
                    case Settings when (flags & Ack) == 0:
                        await stream.WriteAsync(Frame(Settings, Ack, 0, []), limit.Token);
                        break;
                    case Ping when (flags & Ack) == 0:
                        await stream.WriteAsync(Frame(Ping, Ack, 0, payload), limit.Token);
                        break;
                    case GoAway:
                        return new Response(status, headers, body.ToString(), false, $"goaway {BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(4))}");
                    case RstStream when streamId == 1:
                        return new Response(status, headers, body.ToString(), false, $"rst_stream {BinaryPrimitives.ReadUInt32BigEndian(payload)}");
                    case Headers or Continuation when streamId == 1:
                        headerBlock.Write(type == Headers ? HeaderFragment(flags, payload) : payload);
                        if ((flags & EndHeaders) != 0)
                        {
                            var decoded = decoder.Decode(headerBlock.ToArray());
                            headerBlock.SetLength(0);
                            if (status == 0)
                            {
                                status = int.Parse(decoded.First(h => h.Name == ":status").Value);
                                headers.AddRange(decoded.Where(h => h.Name != ":status"));
                            }
                        }

                        break;
                    case Data when streamId == 1:
                        body.Append(Encoding.Latin1.GetString(DataFragment(flags, payload)));
                        break;
                }

                if (streamId == 1 && type is Headers or Data && (flags & EndStream) != 0)
                {
                    return new Response(status, headers, body.ToString(), true, "end_stream");
                }
            }
        }
        catch (EndOfStreamException)
        {
            return new Response(status, headers, body.ToString(), false, "closed");
        }
        catch (IOException)
        {
            return new Response(status, headers, body.ToString(), false, "closed");
        }
        catch (OperationCanceledException) when (limit.IsCancellationRequested)
        {
            return new Response(status, headers, body.ToString(), false, "timeout");
        }
    }

    private static IEnumerable<(string Name, string Value)> RequestHeaders(Uri address, string method, string path, string? cookie)
    {
        yield return (":method", method);
        yield return (":scheme", "http");
        yield return (":authority", $"{address.Host}:{address.Port}");
        yield return (":path", path);
        if (cookie is not null)
        {
            yield return ("cookie", cookie);
        }
    }

    private static byte[] HeaderFragment(byte flags, byte[] payload)
    {
        var span = payload.AsSpan();
        var padding = 0;
        if ((flags & Padded) != 0)
        {
            padding = span[0];
            span = span[1..];
        }

        if ((flags & Priority) != 0)
        {
            span = span[5..];
        }

        return span[..^padding].ToArray();
    }

    private static byte[] DataFragment(byte flags, byte[] payload) =>
        (flags & Padded) != 0 ? payload.AsSpan(1, payload.Length - 1 - payload[0]).ToArray() : payload;

    private static async Task<(byte Type, byte Flags, int StreamId, byte[] Payload)> ReadFrameAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var head = new byte[9];
        await stream.ReadExactlyAsync(head, cancellationToken);
        var length = (head[0] << 16) | (head[1] << 8) | head[2];
        var payload = new byte[length];
        await stream.ReadExactlyAsync(payload, cancellationToken);
        return (head[3], head[4], (int)(BinaryPrimitives.ReadUInt32BigEndian(head.AsSpan(5)) & 0x7FFFFFFF), payload);
    }

    private static byte[] Frame(byte type, byte flags, int streamId, byte[] payload)
    {
        var frame = new MemoryStream();
        WriteFrame(frame, type, flags, streamId, payload);
        return frame.ToArray();
    }

    private static void WriteFrame(Stream target, byte type, int flags, int streamId, byte[] payload)
    {
        Span<byte> head = stackalloc byte[9];
        head[0] = (byte)(payload.Length >> 16);
        head[1] = (byte)(payload.Length >> 8);
        head[2] = (byte)payload.Length;
        head[3] = type;
        head[4] = (byte)flags;
        BinaryPrimitives.WriteUInt32BigEndian(head[5..], (uint)streamId);
        target.Write(head);
        target.Write(payload);
    }

    private static void WriteString(Stream target, string value)
    {
        var bytes = Encoding.ASCII.GetBytes(value);
        if (bytes.Length >= 127)
        {
            target.WriteByte(127);
            var rest = bytes.Length - 127;
            while (rest >= 128)
            {
                target.WriteByte((byte)((rest & 0x7F) | 0x80));
                rest >>= 7;
            }

            target.WriteByte((byte)rest);
        }
        else
        {
            target.WriteByte((byte)bytes.Length);
        }

        target.Write(bytes);
    }
}
