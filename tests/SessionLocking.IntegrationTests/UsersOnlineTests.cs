using System.Net;
using SessionLocking.IntegrationTests.Infrastructure;

namespace SessionLocking.IntegrationTests;

/// <summary>The sample's "users online" count (Sample:UsersOnline): +1 by OnSessionStart, -1 by OnSessionEnd on Abandon and on timeout.</summary>
public sealed class UsersOnlineTests
{
    [Fact]
    public async Task TheCountGoesUpWithEachNewSessionAndDownWhenOneIsAbandonedOrTimesOut()
    {
        // A short real timeout (the sample runs on the system clock), swept every 200 ms.
        using var app = SampleApp.WithHostSettings(new Dictionary<string, string>
        {
            ["Sample:UsersOnline"] = "true",
            ["SessionState:Timeout"] = "00:00:05",
            ["SessionState:SessionEndSweepInterval"] = "00:00:00.200",
        });
        var first = app.NewBrowser();
        var second = app.NewBrowser();
        using (var one = await first.PostAsync("/cart/increment"))
        using (var two = await second.PostAsync("/cart/increment"))
        {
            Assert.Equal(HttpStatusCode.OK, one.StatusCode);
            Assert.Equal(HttpStatusCode.OK, two.StatusCode);
        }

        Assert.Equal(2, await CountAsync(first));

        using (var abandoned = await first.SubmitFormAsync("/session", "/session/abandon"))
        {
            Assert.Equal(HttpStatusCode.Redirect, abandoned.StatusCode);
        }

        // Raised at once by the server that abandoned; the other session has seconds to live.
        await WaitForAsync(first, count => count == 1, "the abandoned session was not counted out");
        await WaitForAsync(first, expected => expected == 0, "the sessions did not time out of the count");
    }

    private static async Task<long> CountAsync(Browser browser) => (await browser.GetJsonAsync("/api/users-online")).GetInt64();

    private static async Task WaitForAsync(Browser browser, Func<long, bool> condition, string message)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition(await CountAsync(browser)))
        {
            Assert.True(DateTime.UtcNow < deadline, message);
            await Task.Delay(50);
        }
    }
}
