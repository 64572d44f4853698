using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Net.Http.Headers;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>
/// One visitor: a cookie jar kept by hand over a shared <see cref="HttpClient"/> (which has cookies off), so a
/// test can send any Cookie header and read every Set-Cookie header. Redirects are not followed: the response
/// that sets a cookie is the one the test sees. Safe for concurrent requests.
/// </summary>
public sealed partial class Browser
{
    public const string SessionCookieName = "ASP.NET_SessionId";

    private readonly HttpClient _client;
    private readonly Dictionary<string, string> _cookies = new(StringComparer.Ordinal);
    private readonly Lock _sync = new();

    public Browser(HttpClient client) => _client = client;

    /// <summary>The session id in the jar, or null.</summary>
    public string? SessionId
    {
        get
        {
            lock (_sync)
            {
                return _cookies.GetValueOrDefault(SessionCookieName);
            }
        }
    }

    /// <summary>The value of a cookie in the jar, or null.</summary>
    public string? Cookie(string name)
    {
        lock (_sync)
        {
            return _cookies.GetValueOrDefault(name);
        }
    }

    /// <summary>Puts a raw cookie value in the jar, valid or not (bad-cookie tests, replaying an old id).</summary>
    public void SetCookie(string name, string value)
    {
        lock (_sync)
        {
            _cookies[name] = value;
        }
    }

    /// <summary>A second browser that starts with this one's cookies.</summary>
    public Browser Clone()
    {
        var clone = new Browser(_client);
        lock (_sync)
        {
            foreach (var (name, value) in _cookies)
            {
                clone._cookies[name] = value;
            }
        }

        return clone;
    }

    public Task<HttpResponseMessage> GetAsync(string path, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Get, path), cancellationToken);

    public Task<HttpResponseMessage> PostAsync(string path, HttpContent? content = null, CancellationToken cancellationToken = default) =>
        SendAsync(new HttpRequestMessage(HttpMethod.Post, path) { Content = content }, cancellationToken);

    public async Task<string> GetStringAsync(string path)
    {
        using var response = await GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {body}");
        return body;
    }

    public async Task<JsonElement> GetJsonAsync(string path)
    {
        using var response = await GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// Submits a form the way a browser does: loads <paramref name="pagePath"/>, takes the antiforgery token of
    /// its forms, and posts <paramref name="fields"/> with it to <paramref name="actionPath"/>.
    /// </summary>
    public async Task<HttpResponseMessage> SubmitFormAsync(string pagePath, string actionPath, params (string Name, string Value)[] fields)
    {
        var token = await FormTokenAsync(pagePath, actionPath);
        return await PostFormAsync(actionPath, token, fields);
    }

    /// <summary>
    /// Loads <paramref name="pagePath"/>, checks it has a form posting to <paramref name="actionPath"/>, and returns
    /// the antiforgery token of its forms (a token can be posted any number of times with this browser's cookies).
    /// </summary>
    public async Task<string> FormTokenAsync(string pagePath, string actionPath)
    {
        var page = await GetStringAsync(pagePath);
        Assert.Contains($"action=\"{actionPath}\"", page);
        var token = TokenInput().Match(page);
        Assert.True(token.Success, $"no antiforgery token on {pagePath}");
        return WebUtility.HtmlDecode(token.Groups[1].Value);
    }

    /// <summary>Posts a form with an antiforgery token from <see cref="FormTokenAsync"/>.</summary>
    public Task<HttpResponseMessage> PostFormAsync(string actionPath, string token, params (string Name, string Value)[] fields)
    {
        var form = fields.Select(f => new KeyValuePair<string, string>(f.Name, f.Value))
            .Append(new KeyValuePair<string, string>("__RequestVerificationToken", token));
        return PostAsync(actionPath, new FormUrlEncodedContent(form));
    }

    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        string? cookieHeader;
        lock (_sync)
        {
            cookieHeader = _cookies.Count == 0 ? null : string.Join("; ", _cookies.Select(c => $"{c.Key}={c.Value}"));
        }

        if (cookieHeader is not null)
        {
            request.Headers.TryAddWithoutValidation("Cookie", cookieHeader);
        }

        var response = await _client.SendAsync(request, cancellationToken);
        foreach (var setCookie in SetCookies(response))
        {
            lock (_sync)
            {
                if (setCookie.Expires is { } expires && expires < DateTimeOffset.UtcNow)
                {
                    _cookies.Remove(setCookie.Name.Value!);
                }
                else
                {
                    _cookies[setCookie.Name.Value!] = setCookie.Value.Value!;
                }
            }
        }

        return response;
    }

    /// <summary>The Set-Cookie headers of a response, parsed.</summary>
    public static IReadOnlyList<SetCookieHeaderValue> SetCookies(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values) && SetCookieHeaderValue.TryParseList(values.ToList(), out var parsed)
            ? parsed.ToList()
            : [];

    /// <summary>The session cookie a response sets, or null.</summary>
    public static SetCookieHeaderValue? SessionCookieOf(HttpResponseMessage response) =>
        SetCookies(response).SingleOrDefault(c => c.Name.Equals(SessionCookieName, StringComparison.Ordinal));

    [GeneratedRegex("name=\"__RequestVerificationToken\" type=\"hidden\" value=\"([^\"]+)\"")]
    private static partial Regex TokenInput();
}
