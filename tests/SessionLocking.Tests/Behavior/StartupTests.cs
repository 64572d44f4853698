using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Tests.Infrastructure;

namespace SessionLocking.Tests.Behavior;

/// <summary>Misconfiguration fails at start-up with a message that says how to fix it.</summary>
public sealed class StartupTests
{
    private static WebApplication Build(Action<WebApplicationBuilder>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        services?.Invoke(builder);
        return builder.Build();
    }

    [Fact]
    public async Task Without_an_explicit_UseRouting_the_implicit_routing_runs_first_and_sessions_work()
    {
        await using var app = Build(b => b.Services.AddLockedSession());
        app.UseLockedSession();
        app.MapPost("/set", (HttpContext c) => c.GetSessionState()["a"] = "1");
        await app.StartAsync();
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        using var client = new SessionClient(address);

        using var response = await client.PostAsync("/set");

        Assert.NotNull(SessionClient.SessionCookieOf(response));
        await app.StopAsync();
    }

    [Fact]
    public async Task UseLockedSession_before_UseRouting_fails_at_start_up()
    {
        await using var app = Build(b => b.Services.AddLockedSession());
        app.UseLockedSession();
        app.UseRouting();
        app.MapGet("/", () => "x");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => app.StartAsync());

        Assert.Contains("Call app.UseRouting() first, then app.UseLockedSession()", error.Message);
    }

    [Fact]
    public async Task UseLockedSession_without_AddLockedSession_fails_with_the_fix()
    {
        await using var app = Build();

        var error = Assert.Throws<InvalidOperationException>(() => app.UseLockedSession());

        Assert.Contains("builder.Services.AddLockedSession()", error.Message);
    }

    [Theory]
    [InlineData("SessionState:Timeout", "00:00:00", "SessionState:Timeout must be greater than 0")]
    [InlineData("SessionState:PollInterval", "-00:00:01", "SessionState:PollInterval must be greater than 0")]
    [InlineData("SessionState:DefaultBehavior", "Default", "SessionState:DefaultBehavior must be Required, ReadOnly or Disabled")]
    [InlineData("SessionState:Cookie:Name", " ", "SessionState:Cookie:Name must not be empty")]
    [InlineData("SessionState:MaxTotalHeldResponseBytes", "1048576", "SessionState:MaxTotalHeldResponseBytes must be at least SessionState:MaxHeldResponseBytes")]
    [InlineData("SessionState:StoreCircuitBreaker:FailureRatio", "0", "SessionState:StoreCircuitBreaker:FailureRatio must be more than 0 and at most 1")]
    [InlineData("SessionState:StoreCircuitBreaker:BreakDuration", "00:00:00.100", "SessionState:StoreCircuitBreaker:SamplingDuration and BreakDuration must be at least 0.5 s")]
    public async Task Invalid_options_fail_at_start_up_with_a_message_that_says_how_to_fix_them(string key, string value, string expected)
    {
        await using var app = Build(b =>
        {
            b.Configuration[key] = value;
            b.Services.AddLockedSession();
        });

        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            app.UseRouting();
            app.UseLockedSession();
            await app.StartAsync();
        });

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Options_bind_from_the_SessionState_section_and_code_runs_after()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Configuration["SessionState:Timeout"] = "00:30:00";
        builder.Configuration["SessionState:RequestQueueLimitPerSession"] = "7";
        builder.Configuration["SessionState:Cookie:Name"] = "Legacy_Session";
        builder.Configuration["SessionState:DefaultBehavior"] = "ReadOnly";
        builder.Configuration["SessionState:MaxTotalHeldResponseBytes"] = "1073741824";
        builder.Configuration["SessionState:StoreCircuitBreaker:BreakDuration"] = "00:00:03";
        builder.Configuration["SessionState:StoreCircuitBreaker:Enabled"] = "false";
        builder.Services.AddLockedSession(o => o.PollInterval = TimeSpan.FromMilliseconds(250));
        using var app = builder.Build();

        var options = app.Services.GetRequiredService<IOptions<LockedSessionOptions>>().Value;

        Assert.Equal(TimeSpan.FromMinutes(30), options.Timeout);
        Assert.Equal(7, options.RequestQueueLimitPerSession);
        Assert.Equal("Legacy_Session", options.Cookie.Name);
        Assert.Equal(SessionStateBehavior.ReadOnly, options.DefaultBehavior);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.PollInterval);
        Assert.Equal(1L << 30, options.MaxTotalHeldResponseBytes);
        Assert.True(options.Cookie.HttpOnly);
        Assert.Equal(TimeSpan.FromSeconds(3), options.StoreCircuitBreaker.BreakDuration);
        Assert.False(options.StoreCircuitBreaker.Enabled);
    }
}
