using System.Net;
using System.Text.RegularExpressions;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The shared layout shows the cart summary on every page (MVC 5: a <c>[ChildActionOnly]</c> action; here a view
/// component that asks <c>TryGetSessionState</c>): the count on Required and ReadOnly pages, the plain link on a
/// Disabled page, which has no session, and no error anywhere.
/// </summary>
public sealed partial class LayoutCartSummaryTests : IClassFixture<SampleAppFixture>
{
    private readonly SampleApp _app;

    public LayoutCartSummaryTests(SampleAppFixture fixture) => _app = fixture.App;

    [Theory]
    [InlineData("/", "3")] // Required (the default)
    [InlineData("/catalogue", "3")] // ReadOnly
    [InlineData("/report", "3")] // ReadOnly
    [InlineData("/error", null)] // Disabled: no session, the link without a count
    public async Task TheLayoutShowsTheCartSummaryOnPagesOfEveryBehavior(string path, string? expected)
    {
        var browser = _app.NewBrowser();
        using (var added = await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Apple"), ("quantity", "3")))
        {
            Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
        }

        var logged = _app.Logs.Entries.Count;

        var page = await browser.GetStringAsync(path);

        var summary = Summary().Match(page);
        Assert.True(summary.Success, $"no cart summary on {path}");
        Assert.Equal(expected, summary.Groups["count"].Success ? summary.Groups["count"].Value : null);
        Assert.Empty(_app.ErrorsSince(logged));
    }

    [Fact]
    public async Task ANewVisitorSeesAnEmptyCartAndGetsNoCookie()
    {
        var browser = _app.NewBrowser();

        using var response = await browser.GetAsync("/");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal("0", Summary().Match(page).Groups["count"].Value);
        Sessions.AssertNoSessionCookie(response);
    }

    [GeneratedRegex("<a href=\"/cart\" id=\"cart-summary\"(?: data-count=\"(?<count>\\d+)\")?>")]
    private static partial Regex Summary();
}
