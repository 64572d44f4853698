using System.Net;
using System.Text.RegularExpressions;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The sample maps its static files the way <c>dotnet new mvc</c> does (<c>app.MapStaticAssets()</c>): each file is
/// an endpoint. Endpoints the framework maps get no session unless marked, so CSS and JS never queue on the session's
/// lock and never call the store, whatever cookie they carry (classic: the static-file handler had no session).
/// </summary>
public sealed partial class StaticAssetTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public StaticAssetTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task StaticAssetsAreServedWhileARequiredRequestOfTheirSessionHoldsTheLockAndCallNoStore()
    {
        var browser = _app.NewBrowser();
        await browser.StartSessionAsync();
        var catalogue = await browser.GetStringAsync("/catalogue");
        var assets = AssetReference().Matches(catalogue).Select(m => WebUtility.HtmlDecode(m.Groups["url"].Value)).ToArray();
        Assert.Contains(assets, a => a.StartsWith("/css/site", StringComparison.Ordinal));
        Assert.Contains(assets, a => a.StartsWith("/js/catalogue", StringComparison.Ordinal));

        var tag = Guid.NewGuid().ToString("N");
        var writer = SlowCall.RunAsync(browser, "required", 4000, tag, "writer");
        await SlowCall.WaitUntilRunningAsync(_app, tag, 1);
        using var storeCalls = new StoreCalls();

        foreach (var asset in assets.Append("/css/site.css"))
        {
            using var response = await browser.GetAsync(asset);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {asset}: {(int)response.StatusCode}");
            Assert.NotNull(response.Headers.ETag); // served by the static asset endpoint
            Sessions.AssertNoSessionCookie(response);
        }

        var running = await _app.Client.GetStringAsync($"/slow/running?tag={tag}");
        var calls = storeCalls.Count;
        Assert.True(
            running.Contains("\"running\":1", StringComparison.Ordinal) && calls == 0,
            $"the writer must still be running when the assets were served ({running}), and the assets must call no store ({calls} calls)");
        await writer;
    }

    [GeneratedRegex("(?:href|src)=\"(?<url>/(?:css|js)/[^\"]+)\"")]
    private static partial Regex AssetReference();
}
