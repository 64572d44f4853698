using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>
/// The response side of a <see cref="SessionStateBehavior.Required"/> request: sends the session cookie when the
/// response starts, makes sure a client cannot mistake a response for complete before the session was saved
/// (Content-Length dropped; or the whole response held, see <see cref="HeldResponseBody"/>), and holds the response
/// once the session id is regenerated, so the new id's cookie reaches the client only after the session moved.
/// </summary>
internal sealed class SessionResponse
{
    private readonly HttpContext _context;
    private readonly LockedSession _session;
    private readonly SessionCookie _cookie;
    private readonly LockedSessionOptions _options;
    private HeldResponseBody? _held;
    private bool _saved;
    private bool _failed;

    private SessionResponse(HttpContext context, LockedSession session, SessionCookie cookie, LockedSessionOptions options)
    {
        _context = context;
        _session = session;
        _cookie = cookie;
        _options = options;
    }

    public static SessionResponse Install(HttpContext context, LockedSession session, SessionCookie cookie, LockedSessionOptions options)
    {
        var response = new SessionResponse(context, session, cookie, options);
        context.Response.OnStarting(static state => ((SessionResponse)state).OnStarting(), response);
        if (HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            response.Hold();
        }

        session.IdRegenerating = response.Hold;
        return response;
    }

    /// <summary>Throws when a held response outgrew its limit, even if the endpoint caught that exception: nothing may be saved.</summary>
    public void ThrowIfTooLarge()
    {
        if (_held is { Overflowed: true } held)
        {
            throw new InvalidOperationException(HeldResponseBody.TooLargeMessage(held.Limit));
        }
    }

    /// <summary>The request fails: a held response is dropped, so the failure can be answered instead.</summary>
    public void Discard()
    {
        _failed = true;
        _held?.Discard();
    }

    /// <summary>The session was saved: a held response goes to the client now.</summary>
    public Task SendAsync()
    {
        _saved = true;
        return _held?.SendAsync() ?? Task.CompletedTask;
    }

    private void Hold() => _held ??= HeldResponseBody.Install(_context, _options.MaxHeldResponseBytes);

    /// <summary>
    /// Sends the cookie of a session that is new (or got a new id) and will be stored; a new session nobody wrote gets
    /// no cookie, as classic removed the cookie it had planned. A response that is not held loses its Content-Length:
    /// the write-back runs after the endpoint, and if it fails the client must not already hold a complete response.
    /// Without a length the response ends only when the pipeline completes (final chunk or END_STREAM), so a failed
    /// write-back aborts it where the client can see it.
    /// </summary>
    private Task OnStarting()
    {
        if (_failed)
        {
            // The failure is being answered: nothing was saved, so no cookie for it.
            return Task.CompletedTask;
        }

        var response = _context.Response;
        if (_held is null && response.ContentLength > 0)
        {
            response.ContentLength = null;
        }

        if (_session.IsIdRegenerated && !_saved && _session.WillBeStored)
        {
            // Written past the held body (a stream taken before RegenerateId): the new id must not reach the client
            // before the session is stored under it.
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

        return Task.CompletedTask;
    }
}
