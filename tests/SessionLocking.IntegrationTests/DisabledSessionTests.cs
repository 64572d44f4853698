using System.Net;
using System.Text.Json;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>The health controller is Disabled: no session, whatever the cookie; touching it fails clearly (test 5).</summary>
public sealed class DisabledSessionTests : IClassFixture<SampleAppFixture>
{
    private const string DisabledMessage =
        "Session state is disabled for this endpoint (SessionStateBehavior.Disabled, from [SessionState], WithSessionState, the configured DefaultBehavior or SetSessionStateBehavior). Use SessionStateBehavior.ReadOnly or Required to access the session.";

    private readonly SampleApp _app;

    public DisabledSessionTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task HealthAnswersOkWithoutACookieAndSendsNone()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Assert.Empty(Browser.SetCookies(response));
    }

    [Theory]
    [InlineData("live")]
    [InlineData("unknown")]
    [InlineData("garbage")]
    [InlineData("oversized")]
    public async Task HealthAnswersOkWithAnyCookieAndSendsNoSessionCookie(string kind)
    {
        var browser = _app.NewBrowser();
        switch (kind)
        {
            case "live":
                await browser.StartSessionAsync();
                break;
            case "unknown":
                browser.SetCookie(Browser.SessionCookieName, "abcdefghijklmnopqrstuvwx");
                break;
            case "garbage":
                browser.SetCookie(Browser.SessionCookieName, "%00<script>..'");
                break;
            default:
                browser.SetCookie(Browser.SessionCookieName, new string('z', 8192));
                break;
        }

        using var response = await browser.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        Sessions.AssertNoSessionCookie(response);
    }

    [Fact]
    public async Task HealthDoesNotWaitForTheLockOfItsSession()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");
        var writer = SlowCall.RunAsync(browser, "required", 2000, tag, "writer");
        await SlowCall.WaitUntilRunningAsync(_app, tag, 1);

        using var health = await browser.GetAsync("/health");
        var running = await _app.Client.GetStringAsync($"/slow/running?tag={tag}");

        Assert.Equal("ok", await health.Content.ReadAsStringAsync());
        Assert.Contains("\"running\":1", running); // the writer was still inside its action when health answered
        await writer;
    }

    [Theory]
    [InlineData("classic")] // HttpContext.GetSessionState()
    [InlineData("core")] // HttpContext.Session
    public async Task TouchingTheSessionInADisabledEndpointThrowsAClearInvalidOperationException(string api)
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync(); // a live session does not make it available

        using var response = await browser.GetAsync($"/health/session-probe?api={api}");
        var json = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal(typeof(InvalidOperationException).FullName, json.GetProperty("exception").GetString());
        Assert.Equal(DisabledMessage, json.GetProperty("message").GetString());
    }

    [Fact]
    public async Task AnUnhandledSessionUseInADisabledEndpointIsA500()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync("/health/session-unhandled");
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Contains("InvalidOperationException", body); // the Development exception page names it
        Assert.Contains("Session state is disabled for this endpoint", System.Net.WebUtility.HtmlDecode(body));
        Sessions.AssertNoSessionCookie(response);
    }
}
