using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>The answer of a slow action: when the action ran, in server milliseconds since the app started (monotonic).</summary>
public sealed record SlowCall(string Behavior, double Start, double End, string? Session, string? Label)
{
    public bool Overlaps(SlowCall other) => Start < other.End && other.Start < End;

    public override string ToString() => $"{Label} {Behavior} [{Start:0.###}, {End:0.###}]";

    /// <summary>Calls <c>/slow/{behavior}</c> and reads the answer.</summary>
    public static async Task<SlowCall> RunAsync(Browser browser, string behavior, int ms, string? tag = null, string? label = null)
    {
        var path = $"/slow/{behavior}?ms={ms}" + (tag is null ? "" : $"&tag={tag}") + (label is null ? "" : $"&label={Uri.EscapeDataString(label)}");
        using var response = await browser.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {body}");
        var json = JsonSerializer.Deserialize<JsonElement>(body);
        return new SlowCall(
            json.GetProperty("behavior").GetString()!,
            json.GetProperty("start").GetDouble(),
            json.GetProperty("end").GetDouble(),
            json.GetProperty("session").GetString(),
            json.GetProperty("label").GetString());
    }

    /// <summary>
    /// Waits until <paramref name="count"/> slow requests with <paramref name="tag"/> are inside their action, so the
    /// next request is sent while they run. This is synchronisation, not a timing assertion; it gives up after 10 s.
    /// </summary>
    public static async Task WaitUntilRunningAsync(SampleApp app, string tag, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var json = await app.Client.GetFromJsonAsync<JsonElement>($"/slow/running?tag={tag}");
            var running = json.GetProperty("running").GetInt32();
            if (running >= count)
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"only {running} of {count} requests tagged {tag} started within 10 s");
            await Task.Delay(10);
        }
    }
}
