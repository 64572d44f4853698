namespace SessionLocking;

/// <summary>
/// What <see cref="LockedSessionEvents.OnSessionEnd"/> receives (classic <c>Session_End</c>): the ended session's id,
/// why it ended, its items as they were at the end, a service scope and the host's stopping token. There is no
/// <c>HttpContext</c>: no request raises the end (classic had none either).
/// </summary>
public sealed class SessionEndContext
{
    /// <summary>Creates the context.</summary>
    /// <param name="sessionId">The ended session's id.</param>
    /// <param name="reason">Why it ended.</param>
    /// <param name="session">Its items, read-only.</param>
    /// <param name="services">The services of a scope made for this handler.</param>
    /// <param name="cancellationToken">Signalled when the host stops.</param>
    public SessionEndContext(string sessionId, SessionEndReason reason, IHttpSessionState session, IServiceProvider services, CancellationToken cancellationToken)
    {
        SessionId = sessionId;
        Reason = reason;
        Session = session;
        Services = services;
        CancellationToken = cancellationToken;
    }

    /// <summary>The ended session's id.</summary>
    public string SessionId { get; }

    /// <summary>Why it ended: timed out, or abandoned.</summary>
    public SessionEndReason Reason { get; }

    /// <summary>
    /// The session's items as they were at the end, through the classic API (<c>Session["cart"]</c>, <c>Count</c>,
    /// <c>Keys</c>, <c>Get&lt;T&gt;</c>); any change throws <see cref="InvalidOperationException"/>.
    /// </summary>
    public IHttpSessionState Session { get; }

    /// <summary>The services of a scope made for this handler and disposed after it.</summary>
    public IServiceProvider Services { get; }

    /// <summary>Signalled when the host stops: the handler should finish quickly (shutdown waits for it up to the host's shutdown timeout).</summary>
    public CancellationToken CancellationToken { get; }
}
