using System.Net;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>Every page renders, with the layout and its local assets (no CDN).</summary>
public sealed class PageTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public PageTests(SampleAppFixture fixture) => _app = fixture.App;

    [Theory]
    [InlineData("/", "Classic session locking on ASP.NET Core")]
    [InlineData("/cart", "id=\"add-form\"")]
    [InlineData("/catalogue", "id=\"products\"")]
    [InlineData("/concurrency", "id=\"verdict\"")]
    [InlineData("/session", "id=\"session-id\"")]
    public async Task PagesRenderWithTheLayout(string path, string marker)
    {
        var browser = _app.NewBrowser();

        var page = await browser.GetStringAsync(path);

        Assert.Contains(marker, page);
        Assert.Matches("href=\"/css/site\\.[a-z0-9]+\\.css\"", page); // MapStaticAssets + WithStaticAssets: the fingerprinted file
        Assert.DoesNotContain("https://", page); // nothing from outside
    }

    [Theory]
    [InlineData("/css/site.css", "text/css")]
    [InlineData("/js/concurrency.js", "text/javascript")]
    [InlineData("/js/catalogue.js", "text/javascript")]
    public async Task StaticAssetsAreServedWithoutASession(string path, string contentType)
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType?.MediaType);
        Assert.Empty(Browser.SetCookies(response));
    }

    [Fact]
    public async Task TheConcurrencyPageStartsASessionSoItsParallelRequestsShareIt()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync("/concurrency?auto=readonly&n=5&ms=300");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Sessions.AssertClassicSessionCookie(response);
        Assert.Contains("data-auto=\"readonly\"", page);
        Assert.Contains("id=\"n\" type=\"number\" min=\"1\" max=\"6\" value=\"5\"", page);
        Assert.Contains("value=\"300\"", page);
        Assert.Matches("src=\"/js/concurrency\\.[a-z0-9]+\\.js\"", page);
    }

    [Fact]
    public async Task AnUnknownAutoScenarioIsIgnored()
    {
        var page = await _app.NewBrowser().GetStringAsync("/concurrency?auto=%3Cscript%3E");

        Assert.Contains("data-auto=\"\"", page);
    }
}
