using System.Net;
using System.Security.Cryptography;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// Session cookies that are not a known, well-formed id are never used: the request runs normally with a fresh
/// session, which gets a new id once something is written (test 6).
/// </summary>
public sealed class BadCookieTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public BadCookieTests(SampleAppFixture fixture) => _app = fixture.App;

    public static TheoryData<string, string> BadIds => new()
    {
        { "random", Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant() },
        { "oversized (8 KB)", new string('a', 8 * 1024) },
        { "wrong alphabet", "abcdefghijklmnopqrstuv89" },
        { "symbols", "abcdefghijk-mnopqrstuvw_" },
        { "uppercase", "ABCDEFGHIJKLMNOPQRSTUVWX" },
        { "too short", "abcdefghijklmnopqrstuvw" },
        { "too long", "abcdefghijklmnopqrstuvwxy" },
        { "unknown but well-formed", WellFormedId() },
    };

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task ABadSessionCookieGetsAFreshSession(string kind, string sent)
    {
        var logged = _app.Logs.Entries.Count;
        var browser = _app.NewBrowser();
        browser.SetCookie(Browser.SessionCookieName, sent);

        // Reading: a normal page, nothing stored, so no cookie either.
        using var page = await browser.GetAsync("/cart");
        Assert.True(page.StatusCode == HttpStatusCode.OK, $"{kind}: GET /cart answered {(int)page.StatusCode}");
        Assert.Contains("data-count=\"0\"", await page.Content.ReadAsStringAsync());
        Sessions.AssertNoSessionCookie(page);

        // Writing: a new session (the counter starts at 1) under a new id.
        using var write = await browser.PostAsync("/cart/increment");
        Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        Assert.Contains("\"value\":1", await write.Content.ReadAsStringAsync());
        var issued = Sessions.AssertClassicSessionCookie(write);
        Assert.NotEqual(sent, issued);

        // The new id works.
        Assert.Equal(2, await browser.IncrementAsync());
        Assert.Equal(issued, browser.SessionId);
        Assert.Empty(_app.ErrorsSince(logged)); // no exception anywhere
    }

    private static string WellFormedId()
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz012345";
        return string.Create(24, 0, static (chars, _) =>
        {
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[RandomNumberGenerator.GetInt32(alphabet.Length)];
            }
        });
    }
}
