using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>What <see cref="LockedSessionEvents.OnSessionStart"/> receives.</summary>
public sealed class SessionStartContext
{
    /// <summary>Creates the context.</summary>
    /// <param name="httpContext">The request that started the session.</param>
    /// <param name="session">The new session.</param>
    public SessionStartContext(HttpContext httpContext, IHttpSessionState session)
    {
        HttpContext = httpContext;
        Session = session;
    }

    /// <summary>The request that started the session.</summary>
    public HttpContext HttpContext { get; }

    /// <summary>The new session.</summary>
    public IHttpSessionState Session { get; }
}
