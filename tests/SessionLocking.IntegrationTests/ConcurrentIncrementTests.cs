using System.Net;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// Read-modify-write under the session lock (test 2): concurrent increments of one session never lose an update.
/// The per-session queue limit (50 by default) is raised for this, since up to 199 requests wait at once.
/// </summary>
public sealed class ConcurrentIncrementTests : IDisposable
{
    private const int Requests = 200;
    private readonly SampleApp _app = SampleApp.With(o => o.RequestQueueLimitPerSession = 1000);

    public void Dispose() => _app.Dispose();

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task TwoHundredSimultaneousIncrementsOfOneSessionEndAtExactlyTwoHundred(int round)
    {
        var browser = _app.NewBrowser();
        var id = await browser.StartSessionAsync(); // the 1st increment creates the session and its cookie

        var values = await Task.WhenAll(Enumerable.Range(0, Requests - 1).Select(_ => browser.IncrementAsync()));

        // Each request saw the value left by the previous one: 2..200, each exactly once.
        Assert.Equal(Enumerable.Range(2, Requests - 1), values.Order());
        Assert.Equal(id, browser.SessionId);
        var counter = await browser.GetJsonAsync("/cart/counter");
        Assert.True(Requests == counter.GetProperty("value").GetInt32(), $"round {round}: counter is {counter}, expected {Requests}");
    }

    [Fact]
    public async Task SeparateSessionsKeepSeparateCounters()
    {
        var one = _app.NewBrowser();
        var two = _app.NewBrowser();
        await one.StartSessionAsync();
        await two.StartSessionAsync();

        await Task.WhenAll(
            Task.WhenAll(Enumerable.Range(0, 29).Select(_ => one.IncrementAsync())),
            Task.WhenAll(Enumerable.Range(0, 9).Select(_ => two.IncrementAsync())));

        Assert.NotEqual(one.SessionId, two.SessionId);
        Assert.Equal(30, (await one.GetJsonAsync("/cart/counter")).GetProperty("value").GetInt32());
        Assert.Equal(10, (await two.GetJsonAsync("/cart/counter")).GetProperty("value").GetInt32());
    }
}

/// <summary>What a request gets when it cannot have the lock: 429 over the queue limit, 503 after the wait timeout.</summary>
public sealed class LockLimitTests
{
    [Fact]
    public async Task RequestsOverTheQueueLimitOfTheSessionGet429()
    {
        // Default options: at most 50 requests of one session may wait.
        using var app = new SampleApp();
        var browser = app.NewBrowser();
        await browser.StartSessionAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 80).Select(async i =>
        {
            using var response = await browser.GetAsync($"/slow/required?ms=100&label={i}");
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }));

        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{(int)r.StatusCode} {r.Body}"));
        var rejected = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(rejected);
        Assert.All(rejected, r => Assert.StartsWith("The request queue limit of the session is exceeded.", r.Body));
        Assert.True(responses.Count(r => r.StatusCode == HttpStatusCode.OK) >= 51, "the holder and 50 waiters are served");
    }

    [Fact]
    public async Task ARequestThatWaitsLongerThanTheLockWaitTimeoutGets503()
    {
        using var app = SampleApp.With(o => o.LockWaitTimeout = TimeSpan.FromMilliseconds(300));
        var browser = app.NewBrowser();
        await browser.StartSessionAsync();
        var tag = Guid.NewGuid().ToString("N");

        var holder = SlowCall.RunAsync(browser, "required", 3000, tag);
        await SlowCall.WaitUntilRunningAsync(app, tag, 1);
        using var waiter = await browser.PostAsync("/cart/increment");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, waiter.StatusCode);
        Assert.StartsWith("Timed out waiting for the session lock: another request of this session holds it. The lock is held by slow/required (for ", await waiter.Content.ReadAsStringAsync());
        await holder;
        Assert.Equal(1, (await browser.GetJsonAsync("/cart/counter")).GetProperty("value").GetInt32());
    }
}
