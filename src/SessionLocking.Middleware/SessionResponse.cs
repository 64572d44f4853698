using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>
/// The response side of a <see cref="SessionStateBehavior.Required"/> request. No response looks complete to the
/// client before its session was saved: the response body (<see cref="SessionResponseBody"/>) streams without
/// Content-Length and is ended only after the save, or is held until the save (HTTP/1.0, after <c>RegenerateId</c>,
/// and responses the server would end at their head); the application's <c>OnStarting</c> callbacks run before the
/// save (<see cref="SessionResponseFeature"/>). The session cookie is sent when the response starts, and for a new
/// id only once the session moved. A failed request gets no cookie, and a failed request whose response had started
/// is aborted, so it can never end as a complete response.
/// </summary>
internal sealed class SessionResponse
{
    private readonly HttpContext _context;
    private readonly LockedSession _session;
    private readonly SessionCookie _cookie;
    private readonly LockedSessionOptions _options;
    private readonly SessionResponseFeature _feature;
    private readonly SessionResponseBody _body;
    private bool _saved;
    private bool _failed;

    private SessionResponse(HttpContext context, LockedSession session, SessionCookie cookie, LockedSessionOptions options, HeldResponseBudget budget)
    {
        _context = context;
        _session = session;
        _cookie = cookie;
        _options = options;
        _feature = new SessionResponseFeature(context.Features.GetRequiredFeature<IHttpResponseFeature>());
        _body = new SessionResponseBody(context, context.Features.GetRequiredFeature<IHttpResponseBodyFeature>(),
            () => new HeldResponseBuffer(options.MaxHeldResponseBytes, budget));
    }

    /// <summary>True when the request failed because the held responses of the whole server reached their limit.</summary>
    public bool OverServerLimit => _body.Held is { OverServerLimit: true };

    public static SessionResponse Install(HttpContext context, LockedSession session, SessionCookie cookie, LockedSessionOptions options, HeldResponseBudget budget)
    {
        var response = new SessionResponse(context, session, cookie, options, budget);

        // On the server's own feature: this runs when the response really starts, after everything the application registered.
        response._feature.Inner.OnStarting(static state => ((SessionResponse)state).OnStartingAsync(), response);
        context.Features.Set<IHttpResponseFeature>(response._feature);
        context.Features.Set<IHttpResponseBodyFeature>(response._body);
        if (HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            // HTTP/1.0 ends a response without a length when the connection closes: a cut-off response would look complete.
            response._body.Hold();
        }

        session.IdRegenerating = response._body.Hold;
        return response;
    }

    /// <summary>
    /// The endpoint is done; before anything is saved: a held response that outgrew a limit fails the request (even if
    /// the endpoint caught that exception), and a response that has not started runs the application's OnStarting
    /// callbacks, so one that throws fails the request while the session is untouched.
    /// </summary>
    public Task PrepareAsync()
    {
        ThrowIfOverLimit();
        return _context.Response.HasStarted ? Task.CompletedTask : _feature.RunOnStartingAsync();
    }

    /// <summary>The request fails: what was held is dropped, and a response that had started is aborted.</summary>
    public void Discard()
    {
        _failed = true;
        _body.Discard();
        Restore();
        if (_context.Response.HasStarted)
        {
            // Nothing was saved, so the response must not end as a complete one, whatever an outer middleware does.
            _context.Abort();
        }
    }

    /// <summary>The session was saved: a held response goes to the client, and a completed one ends, now.</summary>
    public Task SendAsync()
    {
        _saved = true;
        Restore();
        return _body.SendAsync();
    }

    /// <summary>
    /// The session was saved and released early, while the endpoint goes on: the response is the server's again (what
    /// was held goes out, the application's OnStarting callbacks run when it starts, nothing waits for the end).
    /// </summary>
    public Task ReleasedAsync()
    {
        _saved = true;
        _feature.HandOver();
        Restore();
        return _body.PassThroughAsync();
    }

    /// <summary>Server-sent events release the session before their first bytes leave (see <see cref="SessionResponseBody.StreamRelease"/>).</summary>
    public void ReleaseBeforeEventStream(Func<Task> release) => _body.StreamRelease = release;

    /// <summary>Throws when a held response outgrew a limit: nothing may be saved for it (as <see cref="PrepareAsync"/>).</summary>
    public void ThrowIfOverLimit()
    {
        if (_body.Held is { } held && (held.OverLimit || held.OverServerLimit))
        {
            throw new InvalidOperationException(held.OverServerLimit
                ? HeldResponseBuffer.ServerFullMessage(held.ServerLimit)
                : HeldResponseBuffer.TooLargeMessage(held.Limit));
        }
    }

    private void Restore()
    {
        _context.Features.Set(_feature.Inner);
        _context.Features.Set(_body.Inner);
    }

    /// <summary>
    /// The response starts at the server: the application's callbacks not run yet, then the session cookie. A new
    /// session (or a new id) that will be stored gets its cookie; a new session nobody wrote gets none, as classic
    /// removed the cookie it had planned. A streamed response loses its Content-Length: the write-back runs after the
    /// endpoint, so the response may only end (final chunk, END_STREAM) once it succeeded.
    /// </summary>
    private async Task OnStartingAsync()
    {
        await _feature.RunOnStartingAsync();
        if (_failed)
        {
            // The failure is being answered: nothing was saved, so no cookie for it.
            return;
        }

        var response = _context.Response;
        if (_body.Held is null && !_saved && response.ContentLength > 0)
        {
            response.ContentLength = null;
        }

        if (_session.IsIdRegenerated && !_saved && _session.WillBeStored)
        {
            // Written past the held body (a stream taken before UseLockedSession): the new id must not reach the
            // client before the session is stored under it.
            throw new InvalidOperationException("The response started before the session was stored under the id RegenerateId made. Do not write to a response stream obtained before calling RegenerateId.");
        }

        if ((_session.IsNewSession || _session.IsIdRegenerated) && _session.WillBeStored)
        {
            _cookie.Write(_context, _session.SessionID);
            _session.CookieIssued = true;
        }
        else if (_session.IsAbandoned && !_session.IsNewSession && _options.RegenerateUnknownSessionIds)
        {
            // The id is dead and would only be replaced on the next request: let the browser forget it now.
            // (With classic reuse of unknown ids, classic kept the cookie and so do we.)
            _cookie.Delete(_context);
        }
    }
}
