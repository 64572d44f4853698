using System.Net;
using SessionLocking.IntegrationTests.Infrastructure;
using SessionLocking.TestUtilities;

namespace SessionLocking.IntegrationTests;

/// <summary>
/// The sample side by side with a legacy application on Microsoft.Web.RedisSessionStateProvider
/// (SessionState:Mode=RedisSessionStateProvider): its sessions live under the provider's v5 keys, locked with the
/// provider's lock key, on a redis-server of the test's own. The cross-side protocol itself (a simulated legacy server
/// taking locks, reading and writing) is tested in tests/SessionLocking.Tests/Legacy.
/// </summary>
public sealed class LegacyProviderModeTests
{
    [Fact]
    public async Task The_sample_keeps_its_sessions_in_the_legacy_providers_keys_and_locks()
    {
        await using var redis = await RedisServer.StartAsync();
        using var app = SampleApp.WithHostSettings(new Dictionary<string, string>
        {
            ["SessionState:Mode"] = "RedisSessionStateProvider",
            ["SessionState:RedisSessionStateProvider:Configuration"] = redis.Configuration,
            ["SessionState:RedisSessionStateProvider:ApplicationName"] = "Shop",
        });
        var browser = app.NewBrowser();

        using (var first = await browser.PostAsync("/cart/increment"))
        {
            Assert.Contains("\"value\":1", await first.Content.ReadAsStringAsync()); // the session and its cookie
        }

        // Concurrent requests of one session: the provider's lock key serializes them, none is lost.
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 19).Select(async _ =>
        {
            using var response = await browser.PostAsync("/cart/increment");
            return response.StatusCode;
        }));

        Assert.All(concurrent, status => Assert.Equal(HttpStatusCode.OK, status));
        Assert.Equal(20, (await browser.GetJsonAsync("/cart/counter")).GetProperty("value").GetInt32());
        using var inspect = await redis.ConnectAsync();
        var id = browser.SessionId!;
        Assert.Equal(
            [$"{{Shop_{id}}}_SessionStateItemCollection", $"{{Shop_{id}}}_SessionTimeout"],
            await inspect.KeysAsync($"{{Shop_{id}}}_*")); // no lock left behind: {Shop_id}_WriteLock is gone
        Assert.Equal("1200", await inspect.StringAsync("GET", $"{{Shop_{id}}}_SessionTimeout")); // seconds, as the provider keeps it
    }
}
