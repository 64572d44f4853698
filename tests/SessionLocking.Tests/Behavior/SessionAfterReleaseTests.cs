using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// Issue 17, item 2: once the lock was released, the request has no session any more. A middleware registered before
/// <c>UseLockedSession</c> (request logging, an exception handler) runs after the release; before the fix it could
/// still read and write <c>HttpContext.Session</c>, and its writes were accepted and silently lost.
/// </summary>
public sealed class SessionAfterReleaseTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_middleware_outside_the_session_cannot_use_it_after_the_release(bool endpointThrows)
    {
        var seen = new ConcurrentQueue<string>();
        await using var host = await TestHost.StartAsync(
            configureApp: app => app.MapPost("/after/set", (HttpContext context, bool fail) =>
            {
                context.GetSessionState()["inside"] = "saved";
                return fail ? throw new InvalidOperationException("The endpoint failed on purpose.") : Results.Ok();
            }),
            beforeSession: app => app.Use(async (context, next) =>
            {
                try
                {
                    await next(context);
                }
                catch (InvalidOperationException) when (context.Request.Path.StartsWithSegments("/after") && !context.Response.HasStarted)
                {
                    context.Response.StatusCode = StatusCodes.Status500InternalServerError;
                }

                if (context.Request.Path.StartsWithSegments("/after"))
                {
                    seen.Enqueue(LateUse(context));
                }
            }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var response = await client.PostAsync($"/after/set?fail={endpointThrows}");

        Assert.Equal(endpointThrows ? HttpStatusCode.InternalServerError : HttpStatusCode.OK, response.StatusCode);
        var late = Assert.Single(seen);
        Assert.Equal("no session feature; GetSessionState() threw; HttpContext.Session threw: Session has not been configured for this application or request.", late);
        Assert.Equal(endpointThrows ? null : "saved", await client.GetJsonAsync<string>("/get?key=inside"));
        Assert.Null(await client.GetJsonAsync<string>("/get?key=late"));
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>An exception handler outside the session re-runs the pipeline: the error page gets a session of its own (the failed request's changes are not in it).</summary>
    [Fact]
    public async Task An_exception_handler_outside_the_session_re_runs_it_and_the_error_page_has_the_session()
    {
        await using var host = await TestHost.StartAsync(
            configureApp: app =>
            {
                app.MapPost("/after/fail", (HttpContext context) =>
                {
                    context.GetSessionState()["a"] = "from the failed request";
                    throw new InvalidOperationException("The endpoint failed on purpose.");
                });
                app.MapPost("/after/error", (HttpContext context) => Results.Text("error page, a=" + context.GetSessionState()["a"], statusCode: 500));
            },
            beforeSession: app => app.UseExceptionHandler("/after/error"));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();

        using var response = await client.PostAsync("/after/fail");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("error page, a=1", await response.Content.ReadAsStringAsync());
        Assert.Equal("1", await client.GetJsonAsync<string>("/get?key=a"));
    }

    /// <summary>What a middleware outside the session finds after the release, and what a write there does.</summary>
    private static string LateUse(HttpContext context)
    {
        var features = context.Features.Get<ISessionFeature>() is null && context.Features.Get<ILockedSessionFeature>() is null
            ? "no session feature"
            : "session feature still there";
        string classic;
        try
        {
            context.GetSessionState()["late"] = "written after the release";
            classic = "; the classic write was accepted";
        }
        catch (InvalidOperationException ex) when (ex.Message.Contains("already released the session", StringComparison.Ordinal))
        {
            classic = "; GetSessionState() threw";
        }

        try
        {
            context.Session.SetString("late", "written after the release");
            return features + classic + "; the write was accepted";
        }
        catch (InvalidOperationException ex)
        {
            return features + classic + "; HttpContext.Session threw: " + ex.Message;
        }
    }
}
