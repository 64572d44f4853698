using System.Text.Json;
using Microsoft.Playwright;
using SessionLocking.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The concurrency page in a real browser: headless Chromium (Debian's, driven by Microsoft.Playwright) opens the sample
/// on Kestrel, follows the menu to the page and clicks its buttons, as a person would. What the page then shows (the
/// bars' server times, the verdict) must say that read-only requests overlapped and required ones queued. A screenshot of
/// each run is kept under TestResults/screenshots beside the test assembly.
/// </summary>
public sealed class BrowserConcurrencyTests : IClassFixture<SampleAppFixture>
{
    /// <summary>Debian's chromium (scripts/test.sh installs it when missing). Playwright's own browsers are never downloaded.</summary>
    public const string ChromiumPath = "/usr/bin/chromium";

    private static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    private readonly SampleApp _app;
    private readonly ITestOutputHelper _output;

    public BrowserConcurrencyTests(SampleAppFixture fixture, ITestOutputHelper output)
    {
        _app = fixture.App;
        _output = output;
    }

    /// <summary>Where screenshots go: TestResults/screenshots beside the test assembly.</summary>
    public static string ScreenshotDirectory => Path.Combine(AppContext.BaseDirectory, "TestResults", "screenshots");

    [Fact]
    public async Task ClickingThroughTheConcurrencyPageShowsReadOnlyRequestsOverlapAndRequiredOnesQueue()
    {
        await using var session = await BrowserSession.StartAsync();
        var page = session.Page;

        // Home, then the menu link, like a visitor.
        await page.GotoAsync(_app.Address.ToString());
        await page.Locator("header nav a", new() { HasText = "Concurrency" }).ClickAsync();
        await page.WaitForURLAsync(url => new Uri(url).AbsolutePath == "/concurrency");
        Assert.Equal("Concurrency of one session", await page.Locator("h1").InnerTextAsync());
        Assert.Contains(await page.Context.CookiesAsync(), c => c.Name == Browser.SessionCookieName); // the page started a session

        await page.Locator("#n").FillAsync("4");
        await page.Locator("#ms").FillAsync("600");

        var readOnly = await RunAsync(page, "readonly", "ReadOnly × N");
        Assert.Equal(4, readOnly.Bars.Count);
        Assert.All(readOnly.Bars, b => Assert.Equal("readonly", b.Behavior));
        Assert.True(AnyOverlap(readOnly.Bars), $"read-only requests of one session must overlap: {readOnly}");
        Assert.Equal("yes", readOnly.Overlapped);
        Assert.True(readOnly.MaxConcurrent >= 2, $"at least two read-only requests at once: {readOnly}");
        Assert.StartsWith("overlapped: yes", readOnly.VerdictText);

        var required = await RunAsync(page, "required", "Required × N");
        Assert.Equal(4, required.Bars.Count);
        Assert.All(required.Bars, b => Assert.Equal("required", b.Behavior));
        Assert.False(AnyOverlap(required.Bars), $"required requests of one session must not overlap: {required}");
        Assert.Equal("no", required.Overlapped);
        Assert.Equal(1, required.MaxConcurrent);
        Assert.Equal("no", required.WriterOverlap);
        Assert.Contains("No two required requests overlapped.", required.VerdictText);

        var mixed = await RunAsync(page, "mixed", "Mixed");
        Assert.Equal(["required", "readonly", "disabled", "required", "readonly"], mixed.Bars.Select(b => b.Behavior));
        Assert.False(AnyOverlap(mixed.Bars.Where(b => b.Behavior == "required").ToList()), $"the two required requests must not overlap: {mixed}");
        Assert.Equal("no", mixed.WriterOverlap);
    }

    /// <summary>
    /// Issue 22: each bar says what its request waited for and who held the lock, read from the <c>Server-Timing</c>
    /// header (on in Development); the report releases the session early, so required requests run while it streams.
    /// </summary>
    [Fact]
    public async Task TheConcurrencyPageShowsWhatEachRequestWaitedForAndWhoHeldTheLock()
    {
        await using var session = await BrowserSession.StartAsync();
        var page = session.Page;
        await page.GotoAsync(new Uri(_app.Address, "/concurrency").ToString());
        await page.Locator("#n").FillAsync("3");
        await page.Locator("#ms").FillAsync("400");

        var required = await RunAsync(page, "required", "Required × N");
        var waits = await WaitsAsync(page);
        _output.WriteLine(string.Join("; ", waits.Select(w => $"#{w.Index} waited {w.Wait} ms for '{w.Holder}': {w.Text}")));
        Assert.Equal(3, required.Bars.Count);

        // Three required requests of one session queue: two of them waited, each for the slow action that held the lock.
        var waited = waits.Where(w => w.Wait > 0).ToList();
        Assert.True(waited.Count >= 2, $"at least two required requests waited: {string.Join("; ", waits)}");
        Assert.All(waited, w => Assert.Equal("slow/required", w.Holder));
        Assert.All(waited, w => Assert.Contains("for slow/required", w.Text));
        Assert.Contains(waits, w => w.Wait >= 300);

        var report = await RunAsync(page, "report", "Report that releases early");
        var reportWaits = await WaitsAsync(page);
        _output.WriteLine(string.Join("; ", reportWaits.Select(w => $"#{w.Index} waited {w.Wait} ms for '{w.Holder}': {w.Text}")));
        var reportBar = report.Bars.Single(b => b.Behavior == "report");
        var released = double.Parse(await page.Locator("#bar-1").GetAttributeAsync("data-released") ?? "NaN", System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(released, reportBar.Start, reportBar.End);

        // The required requests were sent once the report streamed: they ran while it streamed, after its release.
        var others = report.Bars.Where(b => b.Behavior == "required").ToList();
        Assert.Equal(2, others.Count);
        Assert.All(others, b => Assert.True(b.Start >= released && b.Start < reportBar.End, $"#{b.Index} ran at {b.Start}, the report released at {released} and ended at {reportBar.End}"));
        Assert.Equal("no", report.WriterOverlap);
        Assert.Contains("The report released the session after", report.VerdictText);
    }

    /// <summary>What each bar of the timeline says its request waited for (from Server-Timing).</summary>
    private static async Task<List<BarWait>> WaitsAsync(IPage page)
    {
        var json = await page.Locator("#timeline .bar").EvaluateAllAsync<JsonElement>(
            "els => els.map(e => ({ index: +e.dataset.index, wait: e.dataset.wait === '' ? -1 : +e.dataset.wait, holder: e.dataset.holder, text: e.textContent }))");
        return json.EnumerateArray().Select(w => new BarWait(
            w.GetProperty("index").GetInt32(),
            w.GetProperty("wait").GetDouble(),
            w.GetProperty("holder").GetString() ?? "",
            w.GetProperty("text").GetString() ?? "")).OrderBy(w => w.Index).ToList();
    }

    private sealed record BarWait(int Index, double Wait, string Holder, string Text);

    /// <summary>Clicks the scenario's button, waits until the page says it is done, keeps a screenshot and reads the result.</summary>
    private async Task<Run> RunAsync(IPage page, string scenario, string buttonText)
    {
        await page.EvaluateAsync("() => { delete document.body.dataset.done; }");
        var button = page.Locator($"#run-{scenario}");
        Assert.StartsWith(buttonText, await button.InnerTextAsync());
        await button.ClickAsync();
        await page.Locator("body[data-done='true']").WaitForAsync(new() { Timeout = 30_000 });

        Directory.CreateDirectory(ScreenshotDirectory);
        var screenshot = Path.Combine(ScreenshotDirectory, $"concurrency-{scenario}.png");
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });
        _output.WriteLine($"screenshot: {screenshot}");
        Console.WriteLine($"screenshot: {screenshot}");

        var errors = await page.Locator("#errors li").AllInnerTextsAsync();
        Assert.True(errors.Count == 0, $"{scenario}: the page reported errors: {string.Join("; ", errors)}");
        Assert.Equal(scenario, await page.Locator("#status").GetAttributeAsync("data-scenario"));

        var barsJson = await page.Locator("#timeline .bar").EvaluateAllAsync<JsonElement>(
            "els => els.map(e => ({ index: +e.dataset.index, behavior: e.dataset.behavior, start: +e.dataset.start, end: +e.dataset.end }))");
        var bars = barsJson.EnumerateArray().Select(b => new Bar(
            b.GetProperty("index").GetInt32(),
            b.GetProperty("behavior").GetString() ?? "",
            b.GetProperty("start").GetDouble(),
            b.GetProperty("end").GetDouble()));
        var verdict = page.Locator("#verdict");
        var run = new Run(
            bars.OrderBy(b => b.Index).ToList(),
            await verdict.GetAttributeAsync("data-overlapped") ?? "",
            int.Parse(await verdict.GetAttributeAsync("data-max-concurrent") ?? "0", System.Globalization.CultureInfo.InvariantCulture),
            await verdict.GetAttributeAsync("data-writer-overlap") ?? "",
            await verdict.InnerTextAsync());
        _output.WriteLine($"{scenario}: {run}");
        Assert.All(run.Bars, b => Assert.True(b.End > b.Start, $"bar {b.Index} has no duration: {run}"));
        return run;
    }

    private static bool AnyOverlap(IReadOnlyList<Bar> bars) =>
        bars.SelectMany((a, i) => bars.Skip(i + 1).Select(b => (a, b))).Any(p => p.a.Start < p.b.End && p.b.Start < p.a.End);

    /// <summary>One bar of the timeline, as the page drew it.</summary>
    public sealed record Bar(int Index, string Behavior, double Start, double End);

    private sealed record Run(IReadOnlyList<Bar> Bars, string Overlapped, int MaxConcurrent, string WriterOverlap, string VerdictText)
    {
        public override string ToString() =>
            $"overlapped={Overlapped} max={MaxConcurrent} writerOverlap={WriterOverlap} bars=[{string.Join(", ", Bars.Select(b => $"#{b.Index} {b.Behavior} {b.Start:0.#}-{b.End:0.#}"))}] verdict=\"{VerdictText}\"";
    }

    /// <summary>Playwright, Debian's Chromium with a fresh profile in a temporary folder, and one page.</summary>
    private sealed class BrowserSession : IAsyncDisposable
    {
        private readonly IPlaywright _playwright;
        private readonly IBrowserContext _context;
        private readonly string _profile;

        private BrowserSession(IPlaywright playwright, IBrowserContext context, IPage page, string profile)
        {
            _playwright = playwright;
            _context = context;
            Page = page;
            _profile = profile;
        }

        public IPage Page { get; }

        public static async Task<BrowserSession> StartAsync()
        {
            Assert.True(File.Exists(ChromiumPath),
                $"Chromium is missing: {ChromiumPath} does not exist. The browser tests need Debian's chromium package: run " +
                "'apt-get install chromium' (scripts/test.sh installs it when missing). Do not run 'playwright install'.");

            var profile = Directory.CreateTempSubdirectory("sessionlocking-chromium-").FullName;
            var playwright = await Playwright.CreateAsync();
            try
            {
                var context = await playwright.Chromium.LaunchPersistentContextAsync(profile, new()
                {
                    ExecutablePath = ChromiumPath,
                    Headless = true,
                    Args = ChromiumArgs,
                    Timeout = 60_000,
                    ViewportSize = new() { Width = 1200, Height = 900 },
                });
                var page = context.Pages.FirstOrDefault() ?? await context.NewPageAsync();
                page.SetDefaultTimeout(30_000);
                return new BrowserSession(playwright, context, page, profile);
            }
            catch
            {
                playwright.Dispose();
                Directory.Delete(profile, recursive: true);
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _context.CloseAsync();
            _playwright.Dispose();
            for (var attempt = 1; Directory.Exists(_profile); attempt++)
            {
                try
                {
                    Directory.Delete(_profile, recursive: true);
                }
                catch (IOException) when (attempt < 10)
                {
                    await Task.Delay(200); // Chromium may still be writing its profile as it exits
                }
                catch (IOException)
                {
                    return; // the temporary folder is left behind
                }
            }
        }
    }
}
