using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using SessionLocking.Stores;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>
/// The default behaviour is for the application's endpoints. Endpoints ASP.NET Core maps itself (health checks here;
/// static assets in the integration tests, on the sample's <c>MapStaticAssets()</c>) get no session unless marked: they
/// neither wait for the session's lock nor call the store, whatever cookie they carry. Classic gave a session only to
/// handlers that asked for one.
/// </summary>
public sealed class FrameworkEndpointTests
{
    private static Task<TestHost> StartAsync(RecordingStore[] store, Action<LockedSessionOptions>? options = null, Action<WebApplication>? beforeSession = null) =>
        TestHost.StartAsync(
            options,
            configureStore: b => b.Services.AddSingleton<ISessionStateStore>(_ =>
                store[0] = new RecordingStore(new InMemorySessionStateStore(TimeProvider.System))),
            configureServices: services => services.AddHealthChecks(),
            configureApp: app =>
            {
                app.MapHealthChecks("/healthz");
                app.MapHealthChecks("/healthz/marked").WithSessionState(SessionStateBehavior.ReadOnly);
                app.MapHealthChecks("/healthz/overridden");

                // The application's own request delegate (no handler method in the metadata) is an application endpoint.
                app.MapGet("/delegate", (HttpContext context) => context.Response.WriteAsync(context.GetSessionState().IsReadOnly ? "read-only" : "required"));
            },
            beforeSession: beforeSession);

    [Fact]
    public async Task A_health_check_is_answered_while_its_session_is_locked_and_calls_no_store()
    {
        var store = new RecordingStore[1];
        await using var host = await StartAsync(store);
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var holder = await host.HoldLockAsync(client);
        var callsBefore = store[0].Calls;

        var health = client.GetAsync("/healthz");
        var answered = await Task.WhenAny(health, Task.Delay(TimeSpan.FromSeconds(20))) == health;
        var calls = store[0].Calls - callsBefore;
        host.Gate.Open();
        using var healthResponse = await health;
        (await holder).Dispose();

        Assert.True(answered && calls == 0, $"the health check must not wait for the session's lock (answered while held: {answered}) nor call the store ({calls} calls)");
        Assert.Equal(HttpStatusCode.OK, healthResponse.StatusCode);
        Assert.Equal("Healthy", await healthResponse.Content.ReadAsStringAsync());
        Assert.Null(SessionClient.SessionCookieOf(healthResponse));
    }

    [Theory]
    [InlineData("/healthz/marked")] // WithSessionState on the framework endpoint
    [InlineData("/healthz/overridden")] // SetSessionStateBehavior before the middleware
    public async Task A_marked_framework_endpoint_gets_its_session(string path)
    {
        var store = new RecordingStore[1];
        await using var host = await StartAsync(store, beforeSession: app => app.Use((context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/healthz/overridden"))
            {
                context.SetSessionStateBehavior(SessionStateBehavior.ReadOnly);
            }

            return next(context);
        }));
        using var client = host.CreateClient();
        (await client.PostAsync("/set?key=a&value=1")).Dispose();
        var callsBefore = store[0].Calls;

        using var health = await client.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.True(store[0].Calls > callsBefore, "the marked endpoint loaded its session");
    }

    [Theory]
    [InlineData(SessionStateBehavior.Required, "required")]
    [InlineData(SessionStateBehavior.ReadOnly, "read-only")]
    public async Task The_applications_own_request_delegate_gets_the_default_behavior(SessionStateBehavior defaultBehavior, string expected)
    {
        var store = new RecordingStore[1];
        await using var host = await StartAsync(store, o => o.DefaultBehavior = defaultBehavior);
        using var client = host.CreateClient();

        using var response = await client.GetAsync("/delegate");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expected, await response.Content.ReadAsStringAsync());
    }
}
