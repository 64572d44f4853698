using System.Net.Sockets;
using System.Text;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>Sends requests byte for byte over a socket, so headers can hold values an HttpClient would refuse to send.</summary>
public static class RawHttp
{
    public sealed record Response(int Status, IReadOnlyList<string> SetCookies, string Body);

    public static async Task<Response> SendAsync(Uri address, string method, string path, IEnumerable<byte[]> cookieHeaderValues)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(address.Host, address.Port);
        var stream = tcp.GetStream();
        var request = new MemoryStream();
        void Ascii(string s) => request.Write(Encoding.ASCII.GetBytes(s));
        Ascii($"{method} {path} HTTP/1.1\r\nHost: {address.Host}:{address.Port}\r\nConnection: close\r\nContent-Length: 0\r\n");
        foreach (var value in cookieHeaderValues)
        {
            Ascii("Cookie: ");
            request.Write(value);
            Ascii("\r\n");
        }

        Ascii("\r\n");
        await stream.WriteAsync(request.ToArray());

        using var reader = new StreamReader(stream, Encoding.Latin1);
        var text = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(30));
        var head = text.Split("\r\n\r\n", 2);
        var lines = head[0].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1]);
        var cookies = lines.Skip(1)
            .Where(l => l.StartsWith("Set-Cookie:", StringComparison.OrdinalIgnoreCase))
            .Select(l => l["Set-Cookie:".Length..].Trim())
            .ToArray();
        return new Response(status, cookies, head.Length > 1 ? head[1] : string.Empty);
    }
}
