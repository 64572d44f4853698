using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Faults;

/// <summary>
/// Issue 17, item 6: responses held in memory until their session is saved (every Required request over HTTP/1.0)
/// are bounded per request, and across the whole server. Before the fix only the per-request limit existed: many
/// clients that talk HTTP/1.0 and do not read pinned one held response each.
/// </summary>
[Collection(SerialFaults.Name)]
public sealed class HeldResponseMemoryTests(ITestOutputHelper output)
{
    private const int Clients = 32;
    private const int ResponseBytes = 2 * 1024 * 1024;
    private const long ServerLimit = 16 * 1024 * 1024;

    [Fact]
    public async Task Many_HTTP_1_0_clients_that_do_not_read_hold_at_most_the_servers_limit_and_the_rest_get_503_with_nothing_saved()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int holding = 0, refused = 0;
        await using var host = await TestHost.StartAsync(
            // Bound from configuration, as an application would set it (SessionState:MaxTotalHeldResponseBytes).
            configureServices: services => services.Configure<LockedSessionOptions>(new ConfigurationBuilder()
                .AddInMemoryCollection(new Dictionary<string, string?> { ["MaxTotalHeldResponseBytes"] = ServerLimit.ToString() })
                .Build()),
            configureApp: app => app.MapPost("/held/big", async (HttpContext context, bool wait) =>
            {
                context.GetSessionState()["big"] = "saved";
                try
                {
                    var chunk = new byte[8192];
                    Array.Fill(chunk, (byte)'x');
                    for (var sent = 0; sent < ResponseBytes; sent += chunk.Length)
                    {
                        await context.Response.Body.WriteAsync(chunk, CancellationToken.None);
                    }
                }
                catch (InvalidOperationException)
                {
                    Interlocked.Increment(ref refused);
                    throw;
                }

                Interlocked.Increment(ref holding);
                if (wait)
                {
                    await gate.Task;
                }
            }));

        // Warm up (JIT, pools), then take the baseline.
        var warm = await RawExchange.SendAsync(host.Address, "POST", "/held/big?wait=false", null, "HTTP/1.0");
        Assert.Equal(200, warm.Status);
        holding = 0;
        var before = GC.GetTotalMemory(forceFullCollection: true);

        var clients = new List<TcpClient>();
        try
        {
            for (var i = 0; i < Clients; i++)
            {
                clients.Add(await SendWithoutReadingAsync(host.Address, "/held/big?wait=true"));
            }

            await FaultKit.Until(() => Volatile.Read(ref holding) + Volatile.Read(ref refused) == Clients, TimeSpan.FromSeconds(60), "every request wrote its response");
            var during = GC.GetTotalMemory(forceFullCollection: true);
            var growth = during - before;
            output.WriteLine($"{Clients} HTTP/1.0 clients asking for {ResponseBytes / 1024 / 1024} MiB each, server limit {ServerLimit / 1024 / 1024} MiB: {holding} held, {refused} refused; heap growth {growth / 1024.0 / 1024.0:0.0} MiB");

            gate.SetResult();
            var statuses = new List<(int Status, int BodyBytes)>();
            foreach (var client in clients)
            {
                statuses.Add(await ReadResponseAsync(client));
            }

            output.WriteLine("answers: " + string.Join(", ", statuses.GroupBy(s => s.Status).Select(g => $"{g.Count()}× {g.Key}")));
            Assert.True(growth < 2 * ServerLimit, $"the heap grew by {growth / 1024.0 / 1024.0:0.0} MiB while the server limit is {ServerLimit / 1024 / 1024} MiB");
            Assert.InRange(holding, 1, (int)(ServerLimit / ResponseBytes));
            Assert.Equal(holding, statuses.Count(s => s.Status == 200 && s.BodyBytes == ResponseBytes));
            Assert.Equal(refused, statuses.Count(s => s.Status == 503));
            Assert.True(TestLog.Has("HeldResponsesOverServerLimit"));
            var budget = host.Services.GetRequiredService<HeldResponseBudget>();
            await FaultKit.Until(() => budget.Used == 0, TimeSpan.FromSeconds(10), "every held byte went back to the server's budget");
        }
        finally
        {
            gate.TrySetResult();
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        using var after = host.CreateClient();
        (await after.PostAsync("/set?key=a&value=1")).Dispose();
        Assert.Equal("1", await after.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>Sends an HTTP/1.0 request and leaves the answer unread, with a small receive window.</summary>
    private static async Task<TcpClient> SendWithoutReadingAsync(Uri address, string path)
    {
        var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        await tcp.ConnectAsync(address.Host, address.Port);
        await tcp.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.0\r\nHost: {address.Host}:{address.Port}\r\nContent-Length: 0\r\n\r\n"));
        return tcp;
    }

    private static async Task<(int Status, int BodyBytes)> ReadResponseAsync(TcpClient tcp)
    {
        using var received = new MemoryStream();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await tcp.GetStream().CopyToAsync(received, limit.Token);
        }
        catch (IOException)
        {
            // A reset ends the exchange like a close.
        }

        var bytes = received.ToArray();
        var text = Encoding.Latin1.GetString(bytes);
        var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        return end < 0 ? (0, 0) : (int.Parse(text.Split(' ')[1]), bytes.Length - end - 4);
    }
}
