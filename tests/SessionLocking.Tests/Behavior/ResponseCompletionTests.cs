using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Faults;
using SessionLocking.Tests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Issue 17, item 3: a client never receives a complete response for changes that were lost. The store refuses the
/// write-back; the endpoint ends its response before returning in each way HTTP allows: <c>CompleteAsync</c> (after a
/// body, or with none), a 204, <c>Content-Length: 0</c>, a HEAD request. Raw clients over HTTP/1.1 and HTTP/2 (h2c)
/// record what arrived: no complete success response, and no new session cookie for the lost session.
/// </summary>
public sealed class ResponseCompletionTests(ITestOutputHelper output)
{
    public static TheoryData<string, string> Shapes()
    {
        var data = new TheoryData<string, string>();
        foreach (var protocol in new[] { "HTTP/1.1", "HTTP/2" })
        {
            foreach (var shape in new[] { "write-complete", "complete", "no-content", "empty-length", "head" })
            {
                data.Add(shape, protocol);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task A_failed_write_back_never_reaches_the_client_as_a_complete_success(string shape, string protocol)
    {
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await StartAsync(store);
        using var client = new SessionClient(host.Http1);

        // A response that has sent its head before the save carries the new cookie in it: that shape is tested on a
        // stored session (its cookie is not new); the others are held until the save, so they start a new session.
        var existing = shape == "write-complete";
        if (existing)
        {
            (await client.PostAsync("/set?key=a&value=1")).Dispose();
        }

        store.FailWriteBack = true;
        var seen = await SendAsync(host, protocol, shape, existing ? client.SessionId : null);
        store.FailWriteBack = false;

        output.WriteLine($"{shape} over {protocol}, write-back refused: {seen}");
        Assert.True(store.FailedCalls > 0, "the write-back was not even attempted");
        Assert.False(seen.Complete && seen.Status is >= 200 and < 300, $"a complete success response for changes that were lost: {seen}");
        Assert.Empty(seen.SetCookies);
        if (existing)
        {
            Assert.Null(await client.GetJsonAsync<string>("/get?key=done"));
            Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
        }
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public async Task A_saved_session_ends_each_kind_of_response_completely_with_its_cookie(string shape, string protocol)
    {
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await StartAsync(store);

        var seen = await SendAsync(host, protocol, shape, null);

        output.WriteLine($"{shape} over {protocol}, saved: {seen}");
        Assert.True(seen.Complete, seen.ToString());
        Assert.Equal(shape == "no-content" ? 204 : 200, seen.Status);
        Assert.Equal(shape is "write-complete" ? "saved" : "", seen.Body);
        var cookie = Assert.Single(seen.SetCookies);
        using var client = new SessionClient(host.Http1) { SessionId = cookie.Split(';')[0][(SessionClient.CookieName.Length + 1)..] };
        Assert.Equal(shape, await client.GetJsonAsync<string>("/get?key=done"));
    }

    /// <summary>
    /// An outer middleware that swallows every exception (it logs and moves on) would let the server end a streamed
    /// response normally after its write-back failed. The middleware aborts a started response that failed.
    /// </summary>
    [Theory]
    [InlineData("HTTP/1.1")]
    [InlineData("HTTP/2")]
    public async Task A_streamed_response_whose_write_back_failed_does_not_end_even_if_an_outer_middleware_swallows_the_failure(string protocol)
    {
        var store = new SwitchableFaultStore(new InMemorySessionStateStore(TimeProvider.System));
        await using var host = await StartAsync(store, beforeSession: app => app.Use(async (context, next) =>
        {
            try
            {
                await next(context);
            }
            catch (Exception) when (context.Request.Path.StartsWithSegments("/done"))
            {
                // Swallowed: the kind of "log and carry on" middleware the guarantee must survive.
            }
        }));
        using var client = new SessionClient(host.Http1);
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        store.FailWriteBack = true;
        var seen = await SendAsync(host, protocol, "write", client.SessionId);
        store.FailWriteBack = false;

        output.WriteLine($"write over {protocol}, write-back refused, failure swallowed outside: {seen}");
        Assert.False(seen.Complete && seen.Status is >= 200 and < 300, $"a complete success response for changes that were lost: {seen}");
        Assert.Null(await client.GetJsonAsync<string>("/get?key=done"));
    }

    /// <summary>What a raw client saw, in the same terms for both protocols.</summary>
    private sealed record Seen(int Status, bool Complete, IReadOnlyList<string> SetCookies, string Body, string Detail)
    {
        public override string ToString() => $"{Status} complete={Complete} cookies={SetCookies.Count} ({Detail})";
    }

    private static async Task<Seen> SendAsync(Hosts host, string protocol, string shape, string? sessionId)
    {
        var method = shape == "head" ? "HEAD" : "POST";
        var path = "/done/" + shape;
        if (protocol == "HTTP/2")
        {
            var h2 = await RawHttp2.SendAsync(host.Http2, method, path, sessionId is null ? null : $"{SessionClient.CookieName}={sessionId}");
            return new Seen(h2.Status, h2.Complete, h2.SetCookies.Where(IsSessionCookie).ToArray(), h2.Body, h2.ToString());
        }

        var h1 = await RawExchange.SendAsync(host.Http1, method, path, sessionId, "HTTP/1.1");

        // A response to HEAD, and a 204, is complete at the end of its head: the client expects no body.
        var complete = h1.Status != 0 && (method == "HEAD" || h1.Status == 204 || h1.Complete);
        var cookies = h1.Headers.TryGetValue("Set-Cookie", out var setCookie) && IsSessionCookie(setCookie) ? new[] { setCookie } : [];
        return new Seen(h1.Status, complete, cookies, h1.Body, h1.ToString());
    }

    private static bool IsSessionCookie(string setCookie) =>
        setCookie.StartsWith(SessionClient.CookieName + "=", StringComparison.Ordinal) && !setCookie.Contains("expires=Thu, 01 Jan 1970", StringComparison.OrdinalIgnoreCase);

    /// <summary>One Kestrel server with an HTTP/1.1 endpoint and an HTTP/2-only one (h2c needs prior knowledge there).</summary>
    private sealed class Hosts(TestHost host, Uri http1, Uri http2) : IAsyncDisposable
    {
        public Uri Http1 { get; } = http1;

        public Uri Http2 { get; } = http2;

        public ValueTask DisposeAsync() => host.DisposeAsync();
    }

    private static async Task<Hosts> StartAsync(SwitchableFaultStore store, Action<WebApplication>? beforeSession = null)
    {
        ListenOptions? http1 = null, http2 = null;
        var host = await TestHost.StartAsync(
            configureStore: b => b.Services.AddSingleton<ISessionStateStore>(store),
            configureServices: services => services.Configure<KestrelServerOptions>(o =>
            {
                o.Listen(IPAddress.Loopback, 0, l => (http1 = l).Protocols = HttpProtocols.Http1);
                o.Listen(IPAddress.Loopback, 0, l => (http2 = l).Protocols = HttpProtocols.Http2);
            }),
            configureApp: MapEndpoints,
            beforeSession: beforeSession);

        // Kestrel puts the port it bound into each endpoint's options.
        return new Hosts(host, new Uri($"http://127.0.0.1:{http1!.IPEndPoint!.Port}"), new Uri($"http://127.0.0.1:{http2!.IPEndPoint!.Port}"));
    }

    /// <summary>Each endpoint changes the session, then ends its response before it returns, so before the save.</summary>
    private static void MapEndpoints(WebApplication app)
    {
        app.MapPost("/done/write", async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "write";
            await context.Response.WriteAsync("saved");
        });
        app.MapPost("/done/write-complete", async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "write-complete";
            await context.Response.WriteAsync("saved");
            await context.Response.CompleteAsync();
        });
        app.MapPost("/done/complete", async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "complete";
            await context.Response.CompleteAsync();
        });
        app.MapPost("/done/no-content", async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "no-content";
            context.Response.StatusCode = StatusCodes.Status204NoContent;
            await context.Response.StartAsync();
        });
        app.MapPost("/done/empty-length", async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "empty-length";
            context.Response.ContentLength = 0;
            await context.Response.Body.FlushAsync();
        });
        app.MapMethods("/done/head", ["HEAD"], async (HttpContext context) =>
        {
            context.GetSessionState()["done"] = "head";
            await context.Response.WriteAsync("the body of a HEAD response is never sent");
        });
    }
}
