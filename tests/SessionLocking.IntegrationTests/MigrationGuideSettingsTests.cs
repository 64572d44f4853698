using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The settings docs/migration.md gives, taken from the guide itself and run in the sample: the web.config mapping of
/// section 2, and the side-by-side settings of section 11 (an id issued by the classic application is kept, not
/// replaced; with the default settings it would be replaced, which is what the guide warns about).
/// </summary>
public sealed partial class MigrationGuideSettingsTests
{
    private const string CookieName = "Shop_SessionId";

    [Fact]
    public async Task TheGuidesAppSettingsCarryTheWebConfigValues()
    {
        using var app = SampleApp.WithSettings(GuideJson("## 2. "));

        var options = app.Services.GetRequiredService<IOptions<LockedSessionOptions>>().Value;
        Assert.Equal(TimeSpan.FromMinutes(30), options.Timeout);                  // timeout="30" (minutes)
        Assert.Equal(TimeSpan.FromSeconds(90), options.ExecutionTimeout);         // executionTimeout="90" (seconds)
        Assert.Equal(20, options.RequestQueueLimitPerSession);                    // aspnet:RequestQueueLimitPerSession
        Assert.Equal(CookieName, options.Cookie.Name);                            // cookieName
        Assert.Equal(SameSiteMode.Lax, options.Cookie.SameSite);                  // cookieSameSite

        var browser = app.NewBrowser();
        using var write = await browser.PostAsync("/cart/increment");
        Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        var cookie = Assert.Single(Browser.SetCookies(write), c => c.Name == CookieName);
        Assert.Matches(Sessions.ClassicId(), cookie.Value.Value);
        Assert.Equal("InProc", (await browser.InfoAsync()).GetProperty("mode").GetString());
        Assert.Equal(30, (await browser.InfoAsync()).GetProperty("timeout").GetInt32());
    }

    [Fact]
    public async Task SideBySideAnIdIssuedByTheClassicApplicationIsKept()
    {
        using var app = SampleApp.WithSettings(GuideJson("## 11. "));
        var options = app.Services.GetRequiredService<IOptions<LockedSessionOptions>>().Value;
        Assert.False(options.RegenerateUnknownSessionIds);
        Assert.False(options.ProtectCookieValue);

        var classicId = ClassicIssuedId();
        var browser = app.NewBrowser();
        browser.SetCookie(CookieName, classicId);

        // A read-only page of the new side: no cookie, so the classic cookie stays as it is.
        using (var report = await browser.GetAsync("/report"))
        {
            Assert.Equal(HttpStatusCode.OK, report.StatusCode);
            Assert.Empty(Browser.SetCookies(report));
        }

        // A write on the new side adopts the classic id: any cookie it sends carries that same id.
        using (var write = await browser.PostAsync("/cart/increment"))
        {
            Assert.Equal(HttpStatusCode.OK, write.StatusCode);
            Assert.All(Browser.SetCookies(write).Where(c => c.Name == CookieName), c => Assert.Equal(classicId, c.Value.Value));
        }

        var info = await browser.InfoAsync();
        Assert.Equal(1, info.GetProperty("counter").GetInt32());
        Assert.EndsWith(classicId[^4..], info.GetProperty("maskedId").GetString());

        // Abandon keeps the shared cookie (as classic did), so the classic side's session stays reachable.
        using (var abandoned = await browser.SubmitFormAsync("/session", "/session/abandon"))
        {
            Assert.Equal(HttpStatusCode.Redirect, abandoned.StatusCode);
            Assert.DoesNotContain(Browser.SetCookies(abandoned), c => c.Name == CookieName);
        }

        Assert.Equal(classicId, browser.Cookie(CookieName));
        Assert.Equal(JsonValueKind.Null, (await browser.InfoAsync()).GetProperty("counter").ValueKind); // the new side's data is gone
    }

    [Fact]
    public async Task WithTheDefaultSettingsAClassicIdWouldBeReplaced()
    {
        // Only the cookie name of the guide's side-by-side settings: RegenerateUnknownSessionIds stays true.
        using var app = SampleApp.WithSettings("""{ "SessionState": { "Cookie": { "Name": "Shop_SessionId" } } }""");
        var classicId = ClassicIssuedId();
        var browser = app.NewBrowser();
        browser.SetCookie(CookieName, classicId);

        using var write = await browser.PostAsync("/cart/increment");

        Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        var cookie = Assert.Single(Browser.SetCookies(write), c => c.Name == CookieName);
        Assert.NotEqual(classicId, cookie.Value.Value); // the classic application would lose its session
    }

    /// <summary>A well-formed id this app never issued, as the classic application would have issued it.</summary>
    private static string ClassicIssuedId()
    {
        const string Alphabet = "abcdefghijklmnopqrstuvwxyz012345";
        return string.Create(24, 0, (span, _) =>
        {
            for (var i = 0; i < span.Length; i++)
            {
                span[i] = Alphabet[System.Security.Cryptography.RandomNumberGenerator.GetInt32(Alphabet.Length)];
            }
        });
    }

    /// <summary>The first ```json block of the guide's section that starts with <paramref name="heading"/>.</summary>
    private static string GuideJson(string heading)
    {
        var guide = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "migration.md"));
        var section = guide.IndexOf("\n" + heading, StringComparison.Ordinal);
        Assert.True(section >= 0, $"docs/migration.md has no section '{heading}'");
        var block = JsonBlock().Match(guide, section);
        Assert.True(block.Success, $"no json block in section '{heading}' of docs/migration.md");
        return block.Groups[1].Value;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "SessionLocking.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SessionLocking.sln not found");
    }

    [GeneratedRegex("```json\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();
}
