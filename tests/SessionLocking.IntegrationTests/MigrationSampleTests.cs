using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The "after" code of docs/migration.md: the checkout wizard (Required, a state object in Session["checkout"] through
/// the classic API, Back / Next / Finish, validation per step) and the read-only report, both on the base controller
/// that gives them a classic <c>Session</c> property.
/// </summary>
public sealed partial class MigrationSampleTests : IClassFixture<SampleAppFixture>
{
    private static readonly (string, string)[] ValidShipping =
        [("Details.Name", "Ada Lovelace"), ("Details.Street", "12 St James's Square"), ("Details.City", "London"), ("Details.PostalCode", "SW1Y 4JH")];

    private static readonly (string, string)[] ValidDelivery = [("Details.Method", "express"), ("Details.Instructions", "Leave it with the porter")];

    private static readonly (string, string)[] ValidPayment = [("Details.Method", "invoice"), ("Details.Email", "ada@example.org")];

    private readonly SampleApp _app;

    public MigrationSampleTests(SampleAppFixture fixture) => _app = fixture.App;

    [Fact]
    public async Task TheWizardStoresNothingAndSendsNoCookieUntilAStepIsPosted()
    {
        var browser = _app.NewBrowser();

        using (var start = await browser.GetAsync("/wizard"))
        {
            Assert.Equal(HttpStatusCode.Redirect, start.StatusCode);
            Assert.Equal("/wizard/shipping", start.Headers.Location?.OriginalString);
            Sessions.AssertNoSessionCookie(start);
        }

        using (var page = await browser.GetAsync("/wizard/shipping"))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("data-step=\"1\" data-furthest=\"1\"", await page.Content.ReadAsStringAsync());
            Sessions.AssertNoSessionCookie(page);
        }

        using (var ahead = await browser.GetAsync("/wizard/payment")) // a later step cannot be opened before the earlier ones
        {
            Assert.Equal(HttpStatusCode.Redirect, ahead.StatusCode);
            Assert.Equal("/wizard/shipping", ahead.Headers.Location?.OriginalString);
        }

        Assert.Null(browser.SessionId);
    }

    [Fact]
    public async Task StepsPersistAcrossRequestsWithBackAndNext()
    {
        var browser = _app.NewBrowser();

        using (var next = await Step(browser, "shipping", "next", ValidShipping))
        {
            AssertRedirect(next, "/wizard/delivery");
            Sessions.AssertClassicSessionCookie(next); // the first write starts the session
        }

        var state = await StateAsync(browser);
        Assert.Equal(2, state.GetProperty("furthestStep").GetInt32());
        Assert.Equal("Ada Lovelace", state.GetProperty("shipping").GetProperty("name").GetString());
        Assert.Equal("SW1Y 4JH", state.GetProperty("shipping").GetProperty("postalCode").GetString());

        // Back from step 2 keeps what was typed (not validated) and reopens step 1 with its saved values.
        AssertRedirect(await Step(browser, "delivery", "back", ("Details.Method", "standard"), ("Details.Instructions", "typed, then Back")), "/wizard/shipping");
        var shipping = await browser.GetStringAsync("/wizard/shipping");
        Assert.Contains("value=\"Ada Lovelace\"", shipping);
        Assert.Contains("data-step=\"1\" data-furthest=\"2\"", shipping);
        var delivery = await browser.GetStringAsync("/wizard/delivery");
        Assert.Contains("value=\"typed, then Back\"", delivery);
        Assert.Matches(CheckedRadio("standard"), delivery);

        AssertRedirect(await Step(browser, "delivery", "next", ValidDelivery), "/wizard/payment");
        AssertRedirect(await Step(browser, "payment", "back", ("Details.Method", "card"), ("Details.Email", "")), "/wizard/delivery");
        Assert.Matches(CheckedRadio("express"), await browser.GetStringAsync("/wizard/delivery"));
        AssertRedirect(await Step(browser, "delivery", "next", ValidDelivery), "/wizard/payment");
        Assert.Matches(CheckedRadio("card"), await browser.GetStringAsync("/wizard/payment")); // what Back saved on step 3
        AssertRedirect(await Step(browser, "payment", "next", ValidPayment), "/wizard/review");

        var review = WebUtility.HtmlDecode(await browser.GetStringAsync("/wizard/review"));
        Assert.Contains("Ada Lovelace, 12 St James's Square, SW1Y 4JH London", review);
        Assert.Contains("express — Leave it with the porter", review);
        Assert.Contains("invoice, receipt to ada@example.org", review);
        state = await StateAsync(browser);
        Assert.Equal(4, state.GetProperty("furthestStep").GetInt32());
        Assert.Equal("Leave it with the porter", state.GetProperty("delivery").GetProperty("instructions").GetString());
    }

    [Fact]
    public async Task EachStepIsValidatedBeforeNext()
    {
        var browser = _app.NewBrowser();

        using (var invalid = await Step(browser, "shipping", "next",
                   ("Details.Name", "Ada Lovelace"), ("Details.Street", ""), ("Details.City", "London"), ("Details.PostalCode", "!")))
        {
            var page = await invalid.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, invalid.StatusCode); // the step again, with its errors
            Assert.Contains("Give the street and number.", page);
            Assert.Contains("3 to 10 letters, digits, spaces or dashes.", page);
            Assert.Contains("value=\"Ada Lovelace\"", page); // what was typed is shown again
            Sessions.AssertNoSessionCookie(invalid); // nothing was stored
        }

        AssertRedirect(await Step(browser, "shipping", "next", ValidShipping), "/wizard/delivery");

        using (var invalid = await Step(browser, "delivery", "next", ("Details.Method", "drone")))
        {
            Assert.Equal(HttpStatusCode.OK, invalid.StatusCode);
            Assert.Contains("Choose standard or express delivery.", await invalid.Content.ReadAsStringAsync());
        }

        var state = await StateAsync(browser);
        Assert.Equal(2, state.GetProperty("furthestStep").GetInt32()); // not past the invalid step
        Assert.Equal("", state.GetProperty("delivery").GetProperty("method").GetString());

        // A step further than the furthest one reached cannot be posted.
        var token = await browser.FormTokenAsync("/wizard/delivery", "/wizard/delivery");
        AssertRedirect(await browser.PostFormAsync("/wizard/payment", token, [.. ValidPayment, ("nav", "next")]), "/wizard/delivery?message=Complete%20the%20steps%20in%20order.");
        Assert.Equal("", (await StateAsync(browser)).GetProperty("payment").GetProperty("method").GetString());
    }

    [Fact]
    public async Task FinishPlacesTheOrderAndClearsTheWizardsState()
    {
        var browser = _app.NewBrowser();
        AssertRedirect(await Step(browser, "shipping", "next", ValidShipping), "/wizard/delivery");
        AssertRedirect(await Step(browser, "delivery", "next", ValidDelivery), "/wizard/payment");
        AssertRedirect(await Step(browser, "payment", "next", ValidPayment), "/wizard/review");

        // Back from step 3 with a bad address saved it unvalidated: Finish sends the visitor to that step.
        AssertRedirect(await Step(browser, "payment", "back", ("Details.Method", "invoice"), ("Details.Email", "not an address")), "/wizard/delivery");
        AssertRedirect(await Step(browser, "delivery", "next", ValidDelivery), "/wizard/payment");
        var token = await browser.FormTokenAsync("/wizard/review", "/wizard/finish");
        AssertRedirect(await browser.PostFormAsync("/wizard/finish", token), "/wizard/payment?message=Complete%20this%20step%20before%20finishing.");
        AssertRedirect(await Step(browser, "payment", "next", ValidPayment), "/wizard/review");

        AssertRedirect(await browser.PostFormAsync("/wizard/finish", token), "/wizard/done");

        var json = await browser.GetJsonAsync("/wizard/state");
        Assert.Equal(JsonValueKind.Null, json.GetProperty("state").ValueKind); // the wizard's item was removed
        var order = json.GetProperty("lastOrder").GetString();
        Assert.Matches("^SL-[0-9A-F]{8}$", order);
        Assert.Contains($"id=\"order-number\">{order}<", await browser.GetStringAsync("/wizard/done"));
        var info = await browser.InfoAsync();
        Assert.Equal(["last-order"], info.Keys());

        // The wizard starts again from step 1, and a second Finish has nothing to finish.
        using (var again = await browser.GetAsync("/wizard"))
        {
            AssertRedirect(again, "/wizard/shipping");
        }

        Assert.Contains("data-step=\"1\" data-furthest=\"1\"", await browser.GetStringAsync("/wizard/shipping"));
        AssertRedirect(await browser.PostFormAsync("/wizard/finish", token),
            "/wizard/shipping?message=The%20checkout%20was%20not%20started,%20or%20it%20was%20already%20finished.");
    }

    [Fact]
    public async Task CancelForgetsTheWizardsState()
    {
        var browser = _app.NewBrowser();
        AssertRedirect(await Step(browser, "shipping", "next", ValidShipping), "/wizard/delivery");

        var token = await browser.FormTokenAsync("/wizard/delivery", "/wizard/delivery");
        AssertRedirect(await browser.PostFormAsync("/wizard/cancel", token), "/wizard/shipping?message=The%20checkout%20was%20cancelled.");

        Assert.Equal(JsonValueKind.Null, (await browser.GetJsonAsync("/wizard/state")).GetProperty("state").ValueKind);
        Assert.DoesNotContain("Ada Lovelace", await browser.GetStringAsync("/wizard/shipping"));
    }

    /// <summary>
    /// Two tabs of one session post different steps at the same moment. Each request reads the whole
    /// <c>CheckoutState</c>, changes its own step and writes the object back: without the session lock, a request that
    /// loaded the state before the other tab's write-back would write back the other tab's step as it was before, and
    /// that change would be lost. Posts this fast rarely meet by chance, so in most rounds a slow Required request of
    /// the same session holds the lock first: both tabs' posts arrive while it runs and are both waiting when it ends.
    /// </summary>
    [Fact]
    public async Task TwoTabsOfOneSessionOnTheWizardDoNotLoseEachOthersSteps()
    {
        var tabA = _app.NewBrowser();
        AssertRedirect(await Step(tabA, "shipping", "next", ValidShipping), "/wizard/delivery");
        var tabB = tabA.Clone(); // same cookies: the same session (and antiforgery cookie), a second tab
        var holder = tabA.Clone();
        var tokenA = await tabA.FormTokenAsync("/wizard/shipping", "/wizard/shipping");
        var tokenB = await tabB.FormTokenAsync("/wizard/delivery", "/wizard/delivery");
        using var waits = new LockWaits();
        var roundsWhereBothTabsWaited = 0;

        for (var round = 1; round <= 10; round++)
        {
            var held = round % 2 == 0;
            Task<SlowCall>? slow = null;
            if (held)
            {
                var tag = $"two-tabs-{Guid.NewGuid():N}";
                slow = SlowCall.RunAsync(holder, "required", 700, tag);
                await SlowCall.WaitUntilRunningAsync(_app, tag, 1); // it holds the session's lock now
            }

            var waitsBefore = waits.RequiredWaits;
            var name = $"Tab A, round {round}";
            var instructions = $"Tab B, round {round}";
            var postA = tabA.PostFormAsync("/wizard/shipping", tokenA,
                ("Details.Name", name), ("Details.Street", "1 Main Street"), ("Details.City", "Leeds"), ("Details.PostalCode", "LS1 1AA"), ("nav", "next"));
            var postB = tabB.PostFormAsync("/wizard/delivery", tokenB,
                ("Details.Method", "standard"), ("Details.Instructions", instructions), ("nav", "next"));
            AssertRedirect(await postA, "/wizard/delivery");
            AssertRedirect(await postB, "/wizard/payment");
            if (slow is not null)
            {
                await slow;
            }

            if (waits.RequiredWaits - waitsBefore >= 2)
            {
                roundsWhereBothTabsWaited++;
            }

            var state = await StateAsync(tabA);
            Assert.Equal(name, state.GetProperty("shipping").GetProperty("name").GetString());
            Assert.Equal(instructions, state.GetProperty("delivery").GetProperty("instructions").GetString());
            Assert.Equal(3, state.GetProperty("furthestStep").GetInt32());
        }

        Assert.Equal(tabA.SessionId, tabB.SessionId);

        // The test means something only if the tabs really met: in at least one round both posts were waiting for the
        // lock at the same time, so one of them could only keep the other's change by loading it after it was written.
        Assert.True(roundsWhereBothTabsWaited >= 1, "the two tabs' posts were never in flight together, so no update could have been lost");
        Console.WriteLine($"two tabs: in {roundsWhereBothTabsWaited} of 10 rounds both posts waited for the lock; {waits.RequiredWaits} waits in all");
    }

    [Fact]
    public async Task TheReportReadsCartAndCheckoutWithoutChangingTheSession()
    {
        var browser = _app.NewBrowser();
        using (var empty = await browser.GetAsync("/report"))
        {
            var page = await empty.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.OK, empty.StatusCode);
            Assert.Contains("data-read-only=\"true\" data-item-count=\"0\"", page);
            Assert.Contains("id=\"report-empty\"", page);
            Sessions.AssertNoSessionCookie(empty); // a read-only request never starts a session
        }

        Assert.Equal(HttpStatusCode.Redirect, (await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "Coffee beans, 250 g"), ("quantity", "2"))).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await browser.SubmitFormAsync("/cart", "/cart/add", ("product", "apple"), ("quantity", "3"))).StatusCode);
        AssertRedirect(await Step(browser, "shipping", "next", ValidShipping), "/wizard/delivery");
        var before = await browser.InfoAsync();
        var logged = _app.Logs.Entries.Count;

        using var response = await browser.GetAsync("/report/summary");
        var report = JsonSerializer.Deserialize<JsonElement>(await response.Content.ReadAsStringAsync());
        var page2 = WebUtility.HtmlDecode(await browser.GetStringAsync("/report"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Sessions.AssertNoSessionCookie(response);
        Assert.True(report.GetProperty("isReadOnly").GetBoolean());
        Assert.Equal(5, report.GetProperty("itemCount").GetInt32());
        Assert.Equal(14.20m, report.GetProperty("total").GetDecimal()); // 2 × 6.50 + 3 × 0.40
        Assert.Equal(2, report.GetProperty("checkoutStep").GetInt32());
        Assert.Equal(["cart", "checkout"], report.GetProperty("keys").EnumerateArray().Select(k => k.GetString()));
        Assert.Contains("id=\"report-total\">14.20 €<", page2);
        Assert.Contains("open up to step 2 of 4", page2);

        var after = await browser.InfoAsync();
        Assert.Equal(before.GetRawText(), after.GetRawText()); // nothing changed
        Assert.DoesNotContain(_app.Logs.Entries.Skip(logged), e => e.EventId.Name == "ReadOnlyChangesDiscarded" || e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task PagesOfTheMigratedControllersRender()
    {
        var home = await _app.NewBrowser().GetStringAsync("/");
        Assert.Contains("href=\"/wizard\"", home);
        Assert.Contains("href=\"/report\"", home);
        var shipping = await _app.NewBrowser().GetStringAsync("/wizard/shipping");
        Assert.Matches("href=\"/css/site\\.[a-z0-9]+\\.css\"", shipping); // MapStaticAssets + WithStaticAssets: the fingerprinted file
        Assert.Contains("name=\"Details.PostalCode\"", shipping);
        Assert.Contains("name=\"nav\" value=\"next\"", shipping);
    }

    private static Task<HttpResponseMessage> Step(Browser browser, string step, string nav, params (string Name, string Value)[] fields) =>
        browser.SubmitFormAsync($"/wizard/{step}", $"/wizard/{step}", [.. fields, ("nav", nav)]);

    private static async Task<JsonElement> StateAsync(Browser browser)
    {
        var json = await browser.GetJsonAsync("/wizard/state");
        Assert.True(json.GetProperty("isReadOnly").GetBoolean());
        var state = json.GetProperty("state");
        Assert.Equal(JsonValueKind.Object, state.ValueKind);
        return state;
    }

    private static void AssertRedirect(HttpResponseMessage response, string location)
    {
        using (response)
        {
            Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"expected a redirect to {location}, got {(int)response.StatusCode}");
            Assert.Equal(location, response.Headers.Location?.OriginalString);
        }
    }

    /// <summary>A radio button of the given value that is checked, whatever the order of its attributes.</summary>
    private static Regex CheckedRadio(string value) =>
        new($"<input(?=[^>]*type=\"radio\")(?=[^>]*value=\"{value}\")(?=[^>]*checked=\"checked\")[^>]*>");
}
