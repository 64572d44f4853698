using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace SessionLocking;

/// <summary>Reads and writes the session cookie: strict validation, and optional Data Protection of the value.</summary>
internal sealed class SessionCookie
{
    private const string Purpose = "SessionLocking.SessionId.v1";

    private readonly CookieBuilder _cookie;
    private readonly IDataProtector? _protector;

    public SessionCookie(IOptions<LockedSessionOptions> options, IDataProtectionProvider dataProtection)
    {
        _cookie = options.Value.Cookie;
        _protector = options.Value.ProtectCookieValue ? dataProtection.CreateProtector(Purpose) : null;
    }

    /// <summary>The request's session id when its cookie holds a valid one; null otherwise (no cookie counts as none).</summary>
    /// <param name="context">The request.</param>
    /// <param name="malformed">True when a cookie was present but did not hold a valid id.</param>
    public string? Read(HttpContext context, out bool malformed)
    {
        malformed = false;
        var value = context.Request.Cookies[_cookie.Name!];
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        var id = _protector is null ? value : Unprotect(value);
        if (SessionIds.IsValid(id))
        {
            return id;
        }

        malformed = true;
        return null;
    }

    public void Write(HttpContext context, string sessionId) =>
        context.Response.Cookies.Append(_cookie.Name!, _protector is null ? sessionId : _protector.Protect(sessionId), _cookie.Build(context));

    /// <summary>Expires the cookie in the browser.</summary>
    public void Delete(HttpContext context) => context.Response.Cookies.Delete(_cookie.Name!, _cookie.Build(context));

    private string? Unprotect(string value)
    {
        try
        {
            return _protector!.Unprotect(value);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null; // Forged, corrupt, or protected with keys this application does not have.
        }
        catch (FormatException)
        {
            return null;
        }
    }
}
