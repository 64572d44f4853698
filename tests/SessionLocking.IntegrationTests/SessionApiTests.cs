using System.Net;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>The session page: Abandon, RegenerateId (test 7), Timeout (test 8) and the masked id.</summary>
public sealed class SessionApiTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public SessionApiTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task AfterAbandonTheNextRequestGetsANewEmptySession()
    {
        var browser = _app.NewBrowser();
        var oldId = await browser.StartSessionAsync();
        await SaveNoteAsync(browser, "remember me");
        Assert.Equal(["counter", "note"], (await browser.InfoAsync()).Keys());

        using (var abandoned = await browser.SubmitFormAsync("/session", "/session/abandon"))
        {
            Assert.Equal(HttpStatusCode.Redirect, abandoned.StatusCode);
            // The dead id's cookie is expired in the same response.
            var cleared = abandoned.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("ASP.NET_SessionId=", StringComparison.Ordinal));
            Assert.StartsWith("ASP.NET_SessionId=;", cleared);
            Assert.Contains("expires=Thu, 01 Jan 1970", cleared);
        }

        var info = await browser.InfoAsync();
        Assert.True(info.GetProperty("isNewSession").GetBoolean());
        Assert.Equal(0, info.GetProperty("count").GetInt32());
        Assert.Empty(info.Keys());

        using var write = await browser.PostAsync("/cart/increment");
        Assert.Contains("\"value\":1", await write.Content.ReadAsStringAsync());
        var newId = Sessions.AssertClassicSessionCookie(write);
        Assert.NotEqual(oldId, newId);
    }

    [Fact]
    public async Task RegenerateIdChangesTheIdKeepsTheDataAndRetiresTheOldId()
    {
        var browser = _app.NewBrowser();
        var oldId = await browser.StartSessionAsync();
        await browser.IncrementAsync();
        await SaveNoteAsync(browser, "kept");
        var stale = browser.Clone(); // keeps sending the old id

        using (var regenerated = await browser.SubmitFormAsync("/session", "/session/new-id"))
        {
            Assert.Equal(HttpStatusCode.Redirect, regenerated.StatusCode);
            var newId = Sessions.AssertClassicSessionCookie(regenerated);
            Assert.NotEqual(oldId, newId);
        }

        var info = await browser.InfoAsync();
        Assert.False(info.GetProperty("isNewSession").GetBoolean());
        Assert.Equal(2, info.GetProperty("counter").GetInt32());
        Assert.Equal("kept", info.GetProperty("note").GetString());

        var old = await stale.InfoAsync();
        Assert.True(old.GetProperty("isNewSession").GetBoolean());
        Assert.Equal(0, old.GetProperty("count").GetInt32());
        Assert.Equal(1, await stale.IncrementAsync()); // the old id got a fresh session...
        Assert.NotEqual(oldId, stale.SessionId); // ...under yet another id
        Assert.Equal(2, (await browser.InfoAsync()).GetProperty("counter").GetInt32()); // and the real one is untouched
    }

    [Fact]
    public async Task ATimeoutChangeIsSavedAndReadBackInALaterRequest()
    {
        var browser = _app.NewBrowser();
        var page = await browser.GetStringAsync("/session");
        Assert.Contains("id=\"timeout\">20 minutes", page);

        // Changing only the timeout is enough to start (store) a new session, as in classic.
        using (var changed = await browser.SubmitFormAsync("/session", "/session/timeout", ("minutes", "5")))
        {
            Assert.Equal(HttpStatusCode.Redirect, changed.StatusCode);
            Sessions.AssertClassicSessionCookie(changed);
        }

        var info = await browser.InfoAsync();
        Assert.Equal(5, info.GetProperty("timeout").GetInt32());
        Assert.False(info.GetProperty("isNewSession").GetBoolean());
        Assert.Contains("id=\"timeout\">5 minutes", await browser.GetStringAsync("/session"));
    }

    [Theory]
    [InlineData("0")]
    [InlineData("525601")]
    public async Task AnOutOfRangeTimeoutIsRefusedAndTheOldOneKept(string minutes)
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();

        using var refused = await browser.SubmitFormAsync("/session", "/session/timeout", ("minutes", minutes));

        Assert.Equal(HttpStatusCode.Redirect, refused.StatusCode);
        Assert.Contains("must be 1 to 525600", System.Net.WebUtility.UrlDecode(refused.Headers.Location!.OriginalString));
        Assert.Equal(20, (await browser.InfoAsync()).GetProperty("timeout").GetInt32());
    }

    [Fact]
    public async Task HttpContextSessionSeesTheSameItemsAsTheClassicApi()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        await SaveNoteAsync(browser, "same item");

        var info = await browser.InfoAsync();
        var core = info.GetProperty("core");

        Assert.True(core.GetProperty("isAvailable").GetBoolean());
        Assert.Equal(info.Keys(), core.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!));
        Assert.Equal("same item", core.GetProperty("note").GetString());
    }

    [Fact]
    public async Task TheSessionPageShowsOnlyTheLastFourCharactersOfTheId()
    {
        var browser = _app.NewBrowser();
        var fresh = await browser.GetStringAsync("/session");
        Assert.Contains("id=\"is-new\">true", fresh);

        var id = await browser.StartSessionAsync();
        var page = System.Net.WebUtility.HtmlDecode(await browser.GetStringAsync("/session"));

        Assert.DoesNotContain(id, page);
        Assert.Contains($"<code id=\"session-id\">{new string('•', 20)}{id[^4..]}</code>", page);
        Assert.Contains("id=\"is-new\">false", page);
        Assert.Contains("id=\"is-readonly\">false", page);
        Assert.Contains("id=\"mode\">InProc", page);
    }

    private static async Task SaveNoteAsync(Browser browser, string note)
    {
        using var saved = await browser.SubmitFormAsync("/session", "/session/note", ("note", note));
        Assert.Equal(HttpStatusCode.Redirect, saved.StatusCode);
    }
}
