using System.Net;
using System.Text.RegularExpressions;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>The cart page: classic <c>Session["cart"]</c> with an object changed in place (test 1).</summary>
public sealed partial class CartFlowTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public CartFlowTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task FirstVisitToTheCartSendsNoSessionCookie()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync("/cart");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Sessions.AssertNoSessionCookie(response);
        Assert.Null(browser.SessionId);
        Assert.Equal(0, CartCount(page));
        Assert.Contains("id=\"cart-empty\"", page);

        // Still nothing after a reload: reading never creates a session.
        using var again = await browser.GetAsync("/cart");
        Sessions.AssertNoSessionCookie(again);
    }

    [Fact]
    public async Task AddingAnItemIssuesTheClassicCookieAndTheItemAppearsOnTheNextPage()
    {
        var browser = _app.NewBrowser();

        using var added = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Apple"), ("quantity", "2"));

        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        Assert.Equal("/cart", added.Headers.Location?.OriginalString);
        var id = Sessions.AssertClassicSessionCookie(added);
        Assert.Equal(id, browser.SessionId);

        var page = await browser.GetStringAsync("/cart");
        Assert.Equal(2, CartCount(page));
        Assert.Equal([("Apple", 2)], Lines(page));
    }

    [Fact]
    public async Task ChangesMadeInPlaceToTheCartObjectAreSaved()
    {
        var browser = _app.NewBrowser();
        using (var first = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Apple")))
        {
            Assert.Equal(HttpStatusCode.Redirect, first.StatusCode);
        }

        var id = browser.SessionId;

        // The controller reads the Cart and changes it without assigning Session["cart"] again.
        using (var more = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "apple"), ("quantity", "3")))
        {
            Assert.Equal(HttpStatusCode.Redirect, more.StatusCode);
            Sessions.AssertNoSessionCookie(more); // an existing session keeps its id
        }

        using (var pear = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Pear")))
        {
            Assert.Equal(HttpStatusCode.Redirect, pear.StatusCode);
        }

        var page = await browser.GetStringAsync("/cart");
        Assert.Equal([("Apple", 4), ("Pear", 1)], Lines(page));
        Assert.Equal(5, CartCount(page));

        using (var removed = await browser.SubmitFormAsync("/cart", "/cart/remove", ("product", "Apple")))
        {
            Assert.Equal(HttpStatusCode.Redirect, removed.StatusCode);
        }

        page = await browser.GetStringAsync("/cart");
        Assert.Equal([("Pear", 1)], Lines(page));

        using (var cleared = await browser.SubmitFormAsync("/cart", "/cart/clear"))
        {
            Assert.Equal(HttpStatusCode.Redirect, cleared.StatusCode);
        }

        page = await browser.GetStringAsync("/cart");
        Assert.Empty(Lines(page));
        Assert.Equal(0, CartCount(page));
        Assert.Equal(id, browser.SessionId);
    }

    [Fact]
    public async Task AddingFromTheCatalogueGoesBackToTheCatalogueWhichShowsTheCount()
    {
        var browser = _app.NewBrowser();

        using var added = await browser.SubmitFormAsync("/catalogue", "/cart/add", ("product", "Pear"), ("returnUrl", "/catalogue"));

        Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        Assert.Equal("/catalogue", added.Headers.Location?.OriginalString);
        Sessions.AssertClassicSessionCookie(added);
        var catalogue = await browser.GetStringAsync("/catalogue");
        Assert.Equal(1, CartCount(catalogue));
    }

    [Fact]
    public async Task AFormPostWithoutTheAntiforgeryTokenIsRejectedAndStoresNothing()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.PostAsync("/cart/add", new FormUrlEncodedContent([new("product", "Apple")]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Sessions.AssertNoSessionCookie(response);
    }

    private static int CartCount(string page)
    {
        var match = CountPattern().Match(page);
        Assert.True(match.Success, "the page has no cart count");
        return int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static (string Product, int Quantity)[] Lines(string page) =>
        LinePattern().Matches(page)
            .Select(m => (System.Net.WebUtility.HtmlDecode(m.Groups[1].Value), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();

    [GeneratedRegex("id=\"cart-count\" data-count=\"(\\d+)\"")]
    private static partial Regex CountPattern();

    [GeneratedRegex("class=\"cart-line\" data-product=\"([^\"]*)\" data-quantity=\"(\\d+)\"")]
    private static partial Regex LinePattern();
}
