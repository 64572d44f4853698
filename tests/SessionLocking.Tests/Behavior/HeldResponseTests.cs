using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Issue 17, item 6 (middleware parts): responses held until the session is saved (HTTP/1.0, or after
/// <c>RegenerateId</c>) are bounded on every write path, and the start of a regenerated response cannot lose the
/// session.
/// </summary>
public sealed class HeldResponseTests(ITestOutputHelper output)
{
    /// <summary>
    /// Before the fix the limit was checked only when the PipeWriter flushed into the held buffer: an endpoint that wrote
    /// through <c>Response.BodyWriter</c> without flushing grew the buffer without bound, its changes were saved, and
    /// only then did the final flush fail.
    /// </summary>
    [Fact]
    public async Task A_held_response_written_through_the_PipeWriter_without_flushing_stops_at_the_limit_and_saves_nothing()
    {
        const int Limit = 64 * 1024;
        var written = new long[1];
        await using var host = await TestHost.StartAsync(
            o => o.MaxHeldResponseBytes = Limit,
            configureApp: app => app.MapPost("/held/pipe", (HttpContext context) =>
            {
                context.GetSessionState()["pipe"] = "written";
                var writer = context.Response.BodyWriter;
                for (var i = 0; i < 128; i++)
                {
                    var memory = writer.GetMemory(8192);
                    memory.Span[..8192].Fill((byte)'x');
                    writer.Advance(8192);
                    written[0] += 8192;
                }

                return Task.CompletedTask;
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        var result = await RawExchange.SendAsync(host.Address, "POST", "/held/pipe", client.SessionId, "HTTP/1.0");

        output.WriteLine($"the endpoint wrote {written[0]} bytes through the PipeWriter; the client received {result}");
        Assert.True(written[0] <= Limit, $"the endpoint wrote {written[0]} bytes into a response held with a limit of {Limit}");
        Assert.Equal(500, result.Status);
        Assert.Null(await client.GetJsonAsync<string>("/get?key=pipe"));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>
    /// Before the fix the session moved to its new id, then the response failed to start (the application's callback
    /// threw): the 500 carried no cookie, the browser kept the old id, and that id no longer existed.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task After_RegenerateId_an_OnStarting_callback_that_throws_leaves_the_browser_a_working_session(bool callbackBeforeRegenerate)
    {
        await using var host = await TestHost.StartAsync(configureApp: app => app.MapPost("/held/regenerate-throwing-start", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            session["b"] = "2";
            if (callbackBeforeRegenerate)
            {
                context.Response.OnStarting(() => throw new InvalidOperationException("The application's OnStarting callback failed on purpose."));
            }

            session.RegenerateId();
            if (!callbackBeforeRegenerate)
            {
                context.Response.OnStarting(() => throw new InvalidOperationException("The application's OnStarting callback failed on purpose."));
            }

            return Results.Text("moved");
        }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var oldId = client.SessionId;

        using var response = await client.PostAsync("/held/regenerate-throwing-start");

        output.WriteLine($"the client saw {(int)response.StatusCode}, cookie {(client.SessionId == oldId ? "unchanged" : "replaced")}");
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        Assert.Equal(response.IsSuccessStatusCode ? "2" : null, await client.GetJsonAsync<string>("/get?key=b"));
    }
}
