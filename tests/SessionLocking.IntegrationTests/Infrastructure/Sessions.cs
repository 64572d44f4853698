using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>Steps many tests share.</summary>
public static partial class Sessions
{
    /// <summary>A classic session id: 24 characters of a-z0-5.</summary>
    [GeneratedRegex("^[a-z0-5]{24}$")]
    public static partial Regex ClassicId();

    /// <summary>POST /cart/increment; returns the new counter value.</summary>
    public static async Task<int> IncrementAsync(this Browser browser)
    {
        using var response = await browser.PostAsync("/cart/increment");
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"POST /cart/increment: {(int)response.StatusCode} {body}");
        return JsonSerializer.Deserialize<JsonElement>(body).GetProperty("value").GetInt32();
    }

    /// <summary>Writes to a new session (one increment) so that the browser gets a session cookie; returns the id.</summary>
    public static async Task<string> StartSessionAsync(this Browser browser)
    {
        Assert.Null(browser.SessionId);
        Assert.Equal(1, await browser.IncrementAsync());
        var id = browser.SessionId;
        Assert.NotNull(id);
        Assert.Matches(ClassicId(), id);
        return id;
    }

    /// <summary>GET /session/info (a Required request).</summary>
    public static Task<JsonElement> InfoAsync(this Browser browser) => browser.GetJsonAsync("/session/info");

    /// <summary>The keys /session/info lists.</summary>
    public static string[] Keys(this JsonElement info) =>
        info.GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).ToArray();

    /// <summary>Asserts the response sets the classic session cookie with its classic attributes; returns the id.</summary>
    public static string AssertClassicSessionCookie(HttpResponseMessage response)
    {
        var cookie = Browser.SessionCookieOf(response);
        Assert.NotNull(cookie);
        var id = cookie.Value.Value!;
        Assert.Matches(ClassicId(), id);
        Assert.True(cookie.HttpOnly, "the session cookie must be HttpOnly");
        Assert.Equal(SameSiteMode.Lax, cookie.SameSite);
        Assert.Equal("/", cookie.Path.Value);
        Assert.Null(cookie.Expires);
        Assert.Null(cookie.MaxAge);
        Assert.False(cookie.Secure, "plain HTTP: the cookie is not Secure (SameAsRequest)");
        return id;
    }

    /// <summary>Asserts the response sets no session cookie.</summary>
    public static void AssertNoSessionCookie(HttpResponseMessage response) =>
        Assert.Null(Browser.SessionCookieOf(response));
}
