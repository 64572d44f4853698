using System.Net;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// An HTTP client that behaves like one browser: it keeps the session cookie it is given and sends it back.
/// The cookie can also be set by hand (forged, malformed, or shared between clients).
/// </summary>
public sealed class SessionClient : IDisposable
{
    public const string CookieName = "ASP.NET_SessionId";

    private readonly HttpClient _http;

    public SessionClient(Uri address, TimeSpan? timeout = null)
    {
        _http = new HttpClient(new SocketsHttpHandler { UseCookies = false, MaxConnectionsPerServer = 1024 })
        {
            BaseAddress = address,
            Timeout = timeout ?? TimeSpan.FromSeconds(60),
        };
    }

    /// <summary>The session id this client sends, or null.</summary>
    public string? SessionId { get; set; }

    /// <summary>The Set-Cookie header of the last response that set the session cookie.</summary>
    public string? LastSetCookie { get; private set; }

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, CancellationToken cancellationToken = default)
    {
        using var request = new HttpRequestMessage(method, path);
        if (SessionId is not null)
        {
            request.Headers.Add("Cookie", $"{CookieName}={SessionId}");
        }

        var response = await _http.SendAsync(request, cancellationToken);
        if (SessionCookieOf(response) is { } setCookie)
        {
            LastSetCookie = setCookie;
            SessionId = setCookie.Split(';')[0][(CookieName.Length + 1)..];
        }

        return response;
    }

    public Task<HttpResponseMessage> GetAsync(string path, CancellationToken cancellationToken = default) => SendAsync(HttpMethod.Get, path, cancellationToken);

    public Task<HttpResponseMessage> PostAsync(string path, CancellationToken cancellationToken = default) => SendAsync(HttpMethod.Post, path, cancellationToken);

    public async Task<T> GetJsonAsync<T>(string path)
    {
        using var response = await GetAsync(path);
        return await ReadJsonAsync<T>(response);
    }

    public async Task<T> PostJsonAsync<T>(string path)
    {
        using var response = await PostAsync(path);
        return await ReadJsonAsync<T>(response);
    }

    /// <summary>Reads an OK response's JSON; an empty body (Results.Ok(null)) reads as default.</summary>
    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response)
    {
        await EnsureOk(response);
        var body = await response.Content.ReadAsByteArrayAsync();
        return body.Length == 0 ? default! : System.Text.Json.JsonSerializer.Deserialize<T>(body, JsonOptions)!;
    }

    private static readonly System.Text.Json.JsonSerializerOptions JsonOptions = new(System.Text.Json.JsonSerializerDefaults.Web);

    public static string? SessionCookieOf(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.FirstOrDefault(v => v.StartsWith(CookieName + "=", StringComparison.Ordinal))
            : null;

    public static async Task EnsureOk(HttpResponseMessage response)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    public void Dispose() => _http.Dispose();
}
