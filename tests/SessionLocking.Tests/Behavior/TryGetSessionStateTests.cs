using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// "Is there a session here?" Code shared by pages of every behaviour (a layout, a view component) asks with
/// <c>TryGetSessionState</c>, as classic code wrote <c>if (Session != null)</c>: true on Required and ReadOnly
/// requests, false (never a throw) wherever <c>GetSessionState</c> throws.
/// </summary>
public sealed class TryGetSessionStateTests
{
    private static string Describe(HttpContext context)
    {
        if (!context.TryGetSessionState(out var session))
        {
            return "none";
        }

        return $"{(session.IsReadOnly ? "read-only" : "required")}:{session["name"]}";
    }

    private static Task<TestHost> StartAsync() =>
        TestHost.StartAsync(
            configureServices: services => services.AddHealthChecks(),
            beforeSession: app => app.Use(async (context, next) =>
            {
                if (context.Request.Path == "/try/before-session")
                {
                    await context.Response.WriteAsync(Describe(context)); // UseLockedSession has not run
                    return;
                }

                await next(context);
            }),
            configureApp: app =>
            {
                app.MapGet("/try/required", Describe).WithSessionState(SessionStateBehavior.Required);
                app.MapGet("/try/readonly", Describe).WithSessionState(SessionStateBehavior.ReadOnly);
                app.MapGet("/try/disabled", Describe).WithSessionState(SessionStateBehavior.Disabled);
                app.MapHealthChecks("/try/health", new HealthCheckOptions { ResponseWriter = (context, _) => context.Response.WriteAsync(Describe(context)) });
                app.Use(async (context, next) =>
                {
                    if (context.GetEndpoint() is null && context.Request.Path == "/try/no-endpoint")
                    {
                        await context.Response.WriteAsync(Describe(context)); // after UseLockedSession, no endpoint
                        return;
                    }

                    await next(context);
                });
            });

    [Theory]
    [InlineData("/try/required", "required:Ada")]
    [InlineData("/try/readonly", "read-only:Ada")]
    [InlineData("/try/disabled", "none")]
    [InlineData("/try/health", "none")]
    [InlineData("/try/no-endpoint", "none")]
    [InlineData("/try/before-session", "none")]
    public async Task TryGetSessionState_says_whether_the_request_has_a_session_and_never_throws(string path, string expected)
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=name&value=Ada")).Dispose();
        Assert.NotNull(client.SessionId);

        using var response = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TryGetSessionState_is_true_for_a_new_session_on_a_Required_request()
    {
        await using var host = await StartAsync();
        using var client = host.CreateClient();

        using var response = await client.GetAsync("/try/required");

        Assert.Equal("required:", await response.Content.ReadAsStringAsync());
        Assert.Null(SessionClient.SessionCookieOf(response)); // asking stores nothing
    }

    [Fact]
    public void TryGetSessionState_without_the_middleware_answers_false()
    {
        var context = new DefaultHttpContext();

        Assert.False(context.TryGetSessionState(out var session));
        Assert.Null(session);
        Assert.Throws<ArgumentNullException>(() => ((HttpContext)null!).TryGetSessionState(out _));
    }
}
