using System.Net;
using System.Text.Json;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>The catalogue controller is ReadOnly: it reads the session, and nothing it writes is saved (test 4).</summary>
public sealed class ReadOnlyCatalogueTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public ReadOnlyCatalogueTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task AWriteInTheReadOnlyCatalogueIsNotSaved()
    {
        var browser = _app.NewBrowser();
        var id = await browser.StartSessionAsync();
        var logged = _app.Logs.Entries.Count;

        using var tried = await browser.PostAsync("/catalogue/try-write");
        var json = JsonSerializer.Deserialize<JsonElement>(await tried.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, tried.StatusCode);
        Assert.True(json.GetProperty("isReadOnly").GetBoolean());
        Assert.Equal("catalogue-probe", json.GetProperty("key").GetString());
        Assert.StartsWith("written by a read-only request", json.GetProperty("valueInThisRequest").GetString()); // visible inside that request
        Sessions.AssertNoSessionCookie(tried);

        var info = await browser.InfoAsync(); // a Required request
        Assert.DoesNotContain("catalogue-probe", info.Keys(), StringComparer.OrdinalIgnoreCase);
        Assert.Equal(["counter"], info.Keys());
        Assert.Equal(1, info.GetProperty("counter").GetInt32());
        Assert.Equal(id, browser.SessionId);
        Assert.Contains(_app.Logs.Entries.Skip(logged), e => e.EventId.Name == "ReadOnlyChangesDiscarded" && e.Level == Microsoft.Extensions.Logging.LogLevel.Warning);
    }

    [Fact]
    public async Task AWriteInTheReadOnlyCatalogueDoesNotCreateASession()
    {
        var browser = _app.NewBrowser();

        using var tried = await browser.PostAsync("/catalogue/try-write");

        Assert.Equal(HttpStatusCode.OK, tried.StatusCode);
        Sessions.AssertNoSessionCookie(tried);
        Assert.Null(browser.SessionId);
    }

    [Fact]
    public async Task TheCatalogueReadsTheCartWrittenByTheCart()
    {
        var browser = _app.NewBrowser();
        var before = await browser.GetStringAsync("/catalogue");
        Assert.Contains("data-count=\"0\"", before);
        Assert.Contains("IsReadOnly</code> = true", before);
        Assert.Null(browser.SessionId);

        using (var added = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Coffee"), ("quantity", "3")))
        {
            Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        }

        using var response = await browser.GetAsync("/catalogue");
        var page = await response.Content.ReadAsStringAsync();
        Assert.Contains("id=\"cart-count\" data-count=\"3\"", page);
        Sessions.AssertNoSessionCookie(response);

        var count = await browser.GetJsonAsync("/api/cart/count"); // minimal API, .WithSessionState(ReadOnly)
        Assert.Equal(3, count.GetProperty("count").GetInt32());
    }
}
