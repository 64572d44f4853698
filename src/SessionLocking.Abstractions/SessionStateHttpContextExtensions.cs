using System.Diagnostics.CodeAnalysis;
using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>Session state access on <see cref="HttpContext"/>.</summary>
public static class SessionStateHttpContextExtensions
{
    /// <summary>
    /// The request's session through the classic API. Throws <see cref="InvalidOperationException"/> when
    /// the request has no session: the endpoint is <see cref="SessionStateBehavior.Disabled"/>, the request
    /// has no endpoint, <c>UseLockedSession</c> did not run for it, or it has already released the session (code
    /// that runs after <c>UseLockedSession</c> returned, such as a middleware registered before it).
    /// </summary>
    /// <param name="context">The request.</param>
    public static IHttpSessionState GetSessionState(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var feature = context.Features.Get<ILockedSessionFeature>()
            ?? throw new InvalidOperationException(
                "This request has no session state: UseLockedSession() did not run for it, or it has already released the session (a middleware registered before UseLockedSession() runs after the release, when changes can no longer be saved). Add app.UseLockedSession() after app.UseRouting(); requests without an endpoint (static files, 404s) get no session.");
        return feature.Session
            ?? throw new InvalidOperationException(SessionStateMessages.Disabled);
    }

    /// <summary>
    /// The request's session through the classic API, when it has one (classic <c>if (Session != null)</c>): true on
    /// <see cref="SessionStateBehavior.Required"/> and <see cref="SessionStateBehavior.ReadOnly"/> requests; false,
    /// without throwing, on a <see cref="SessionStateBehavior.Disabled"/> endpoint, an endpoint ASP.NET Core maps
    /// itself (a static asset, a health check), a request without an endpoint, or when <c>UseLockedSession</c> did not
    /// run for it. For code shared by pages of every behaviour, such as a layout or a view component.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="session">The session when there is one; otherwise null.</param>
    /// <returns>Whether the request has a session.</returns>
    public static bool TryGetSessionState(this HttpContext context, [NotNullWhen(true)] out IHttpSessionState? session)
    {
        ArgumentNullException.ThrowIfNull(context);
        session = context.Features.Get<ILockedSessionFeature>()?.Session;
        return session is not null;
    }

    /// <summary>
    /// Overrides the session state behaviour of this request (classic <c>HttpContext.SetSessionStateBehavior</c>).
    /// Wins over attributes, endpoint metadata and the default. Must be called before
    /// <c>UseLockedSession</c> runs, for example from a middleware between <c>UseRouting</c> and it.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="behavior">The behaviour to use.</param>
    public static void SetSessionStateBehavior(this HttpContext context, SessionStateBehavior behavior)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown session state behavior.");
        }

        if (context.Features.Get<ILockedSessionFeature>() is not null)
        {
            throw new InvalidOperationException(
                "SetSessionStateBehavior must be called before UseLockedSession() acquires the session; it was called after.");
        }

        context.Features.Set(new SessionStateBehaviorFeature(behavior));
    }

    /// <summary>
    /// Releases the request's session early, for an endpoint that has made its last session change and goes on working
    /// (streams a report, a long download, server-sent events): writes the changes back now, fenced by the request's
    /// lock, and releases the lock, so the session's other requests run at once. After it the session still reads what
    /// was saved, and any change throws <see cref="InvalidOperationException"/>. A failed write-back throws here (a
    /// <see cref="SessionLockLostException"/> when the lock was lost), not at the end of the request. Does nothing for
    /// <see cref="SessionStateBehavior.ReadOnly"/> and <see cref="SessionStateBehavior.Disabled"/> requests, requests
    /// without a session, and when called again.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <returns>Completes once the session is saved and its lock released.</returns>
    public static Task ReleaseSessionAsync(this HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return context.Features.Get<ILockedSessionFeature>()?.ReleaseAsync() ?? Task.CompletedTask;
    }
}
