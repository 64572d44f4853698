using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;

namespace SessionLocking;

/// <summary>
/// Gives each request the session state its endpoint asks for, with classic ASP.NET locking: acquire before the
/// endpoint, then carry out the session's release plan (write back what changed, remove, move, or release; fenced by
/// the lock id) after it. The lock's owner (<see cref="SessionLock"/>) releases it on every other path.
/// </summary>
internal sealed class LockedSessionMiddleware
{
    private const string QueueFullMessage = "The request queue limit of the session is exceeded.";
    private const string WaitTimedOutMessage = "Timed out waiting for the session lock: another request of this session holds it.";
    private const string StoreUnavailableMessage = "The session store is unavailable.";
    private const string StoreCorruptMessage = "The stored session was corrupt and has been discarded; the next request starts a new session.";

    private readonly RequestDelegate _next;
    private readonly LockedSessionOptions _options;
    private readonly SessionLockCoordinator _locks;
    private readonly InstrumentedSessionStateStore _store;
    private readonly ISessionItemFormat _format;
    private readonly ILogger _logger;
    private readonly SessionCookie _cookie;

    public LockedSessionMiddleware(
        RequestDelegate next,
        IOptions<LockedSessionOptions> options,
        SessionLockCoordinator locks,
        InstrumentedSessionStateStore store,
        ISessionItemFormat format,
        ILogger<LockedSessionMiddleware> logger,
        SessionCookie cookie)
    {
        _next = next;
        _options = options.Value;
        _locks = locks;
        _store = store;
        _format = format;
        _logger = logger;
        _cookie = cookie;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var behavior = ResolveBehavior(context);
        var cookieId = ReadSessionId(context);
        if (behavior == SessionStateBehavior.Disabled)
        {
            await RunWithoutSessionAsync(context, cookieId);
            return;
        }

        await using var sessionLock = await AcquireOrAnswerAsync(context, behavior, cookieId);
        if (sessionLock is null)
        {
            return;
        }

        var session = OpenSession(context, behavior, sessionLock);
        if (behavior == SessionStateBehavior.ReadOnly)
        {
            await _next(context);
            LogDiscardedChanges(session);
            return;
        }

        var response = SessionResponse.Install(context, session, _cookie, _options);
        try
        {
            await RunEndpointAsync(context, session);
            response.ThrowIfTooLarge();
            var plan = GetReleasePlan(session);
            await using var newIdLock = await TakeNewIdAsync(plan);
            await sessionLock.CarryOutAsync(plan, newIdLock);
            LogStored(session, plan);
        }
        catch
        {
            // Nothing was saved (the lock's owner releases without writing, on dispose): answer the failure, not what was held.
            response.Discard();
            throw;
        }

        await response.SendAsync();
    }

    private SessionStateBehavior ResolveBehavior(HttpContext context) =>
        context.GetEndpoint() is { } endpoint
            ? SessionStateBehaviorResolver.Resolve(context, endpoint, _options.DefaultBehavior)
            : SessionStateBehavior.Disabled;

    private LockedSession OpenSession(HttpContext context, SessionStateBehavior behavior, SessionLock sessionLock)
    {
        var session = new LockedSession(
            sessionLock.SessionId,
            sessionLock.StoreResult.Data,
            behavior == SessionStateBehavior.ReadOnly,
            _store.Mode,
            _format,
            _options,
            () => context.Response.HasStarted)
        {
            EndpointName = context.GetEndpoint()?.DisplayName,
        };
        SetFeature(context, new LockedSessionFeature(behavior, session));
        return session;
    }

    /// <summary>Classic <c>Session_Start</c> for a new session, then the endpoint. An endpoint that fails saves nothing (classic).</summary>
    private async Task RunEndpointAsync(HttpContext context, LockedSession session)
    {
        try
        {
            if (session.IsNewSession)
            {
                Log.SessionCreated(_logger, new SessionKey(session.OriginalId));
                if (_options.Events.OnSessionStart is { } onSessionStart)
                {
                    session.MarkStarted();
                    await onSessionStart(new SessionStartContext(context, session));
                }
            }

            await _next(context);
        }
        catch
        {
            Log.EndpointFailedNotSaved(_logger, new SessionKey(session.OriginalId));
            throw;
        }
    }

    /// <summary>The events ASP.NET Core's session writes when it stores a session (same names, same levels).</summary>
    private void LogStored(LockedSession session, ReleasePlan plan)
    {
        if (plan.Kind is not (ReleaseKind.Write or ReleaseKind.Move))
        {
            return;
        }

        var sessionKey = new SessionKey(session.SessionID);
        if (session.IsNewSession)
        {
            Log.SessionStarted(_logger, sessionKey);
        }

        Log.SessionStored(_logger, sessionKey, session.Count);
    }

    private void LogDiscardedChanges(LockedSession session)
    {
        if (session.ReadOnlyChangeAttempted)
        {
            Log.ReadOnlyChangesDiscarded(_logger, new SessionKey(session.OriginalId), session.EndpointName, string.Join(", ", session.ReadOnlyChanges));
        }
    }

    /// <summary>Takes the lock (Required) or waits for writers and loads (ReadOnly); answers the request itself and returns null when it cannot.</summary>
    private async Task<SessionLock?> AcquireOrAnswerAsync(HttpContext context, SessionStateBehavior behavior, string? cookieId)
    {
        var activity = SessionLockingActivities.Start(SessionLockingTelemetry.AcquireActivity, behavior, cookieId ?? "new");
        SessionLock sessionLock;
        try
        {
            sessionLock = await AcquireAsync(behavior, cookieId, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left while waiting: it has left the queue, and there is no one to answer.
            activity.Finish("cancelled");
            return null;
        }
        catch (Exception ex)
        {
            activity.Finish("store_failed", ex);
            LogStoreFailure(ex, "acquire");
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, ex is SessionStoreCorruptException ? StoreCorruptMessage : StoreUnavailableMessage);
            return null;
        }

        var (outcome, status, message) = sessionLock.Status switch
        {
            AcquireStatus.QueueFull => ("queue_full", StatusCodes.Status429TooManyRequests, QueueFullMessage),
            AcquireStatus.TimedOut => ("timed_out", StatusCodes.Status503ServiceUnavailable, WaitTimedOutMessage),
            _ => (sessionLock.Waited > TimeSpan.Zero ? "acquired_after_wait" : "acquired", 0, null),
        };
        try
        {
            activity.Finish(outcome);
        }
        catch
        {
            // The request does not own the lock until it is returned: a failing span listener must not strand it.
            await sessionLock.DisposeAsync();
            throw;
        }

        if (message is null)
        {
            return sessionLock;
        }

        await FailAsync(context, status, message);
        return null;
    }

    /// <summary>Picks the session id and takes the lock; a well-formed id the store does not know starts a fresh session (unless classic reuse is on).</summary>
    private async ValueTask<SessionLock> AcquireAsync(SessionStateBehavior behavior, string? cookieId, CancellationToken cancellationToken)
    {
        var regenerate = _options.RegenerateUnknownSessionIds;
        if (cookieId is not null)
        {
            var sessionLock = await _locks.AcquireAsync(
                cookieId, behavior, createIfMissing: behavior == SessionStateBehavior.Required && !regenerate, cancellationToken);
            if (sessionLock.Status == AcquireStatus.Acquired && sessionLock.StoreResult.Status == SessionStoreStatus.NotFound)
            {
                Log.AccessingExpiredSession(_logger, new SessionKey(cookieId));
            }

            if (sessionLock.Status != AcquireStatus.Acquired || sessionLock.StoreResult.Status != SessionStoreStatus.NotFound || !regenerate)
            {
                return sessionLock;
            }

            // Never adopt an unknown id (session fixation); nothing was taken for it, and its owner ends before anything can fail.
            await sessionLock.DisposeAsync();
            Log.UnknownSessionIdRegenerated(_logger);
        }

        return behavior == SessionStateBehavior.Required
            ? await _locks.AcquireAsync(SessionIds.Create(), behavior, createIfMissing: true, cancellationToken)
            : _locks.NewReadOnly(SessionIds.Create());
    }

    /// <summary>
    /// A plan that moves the session to a new id needs that id's lock first (not the request's token: the endpoint has
    /// run, its changes must be saved even if the client has gone); the old lock's owner carries out the move.
    /// </summary>
    private async ValueTask<SessionLock?> TakeNewIdAsync(ReleasePlan plan) =>
        plan.NewSessionId is { } newId
            ? await _locks.AcquireAsync(newId, SessionStateBehavior.Required, createIfMissing: true, CancellationToken.None)
            : null;

    private ReleasePlan GetReleasePlan(LockedSession session)
    {
        try
        {
            return session.GetReleasePlan();
        }
        catch (SessionSerializationException ex)
        {
            Log.WriteBackFailed(_logger, ex, new SessionKey(session.OriginalId), ex.Message);
            throw;
        }
    }

    /// <summary>
    /// Requests without an endpoint (404s) get no session at all; Disabled endpoints get one that refuses use. Both keep
    /// a session alive, without waiting for it: a page that needs no session never waits for the store.
    /// </summary>
    private Task RunWithoutSessionAsync(HttpContext context, string? cookieId)
    {
        if (context.GetEndpoint() is not null)
        {
            SetFeature(context, new LockedSessionFeature(SessionStateBehavior.Disabled, null));
        }

        if (cookieId is not null && _options.KeepAliveWithoutSession)
        {
            _ = KeepAliveAsync(cookieId);
        }

        return _next(context);
    }

    private static void SetFeature(HttpContext context, LockedSessionFeature feature)
    {
        context.Features.Set<ISessionFeature>(feature);
        context.Features.Set<ILockedSessionFeature>(feature);
    }

    private string? ReadSessionId(HttpContext context)
    {
        var id = _cookie.Read(context, out var malformed);
        if (malformed)
        {
            Log.InvalidSessionIdIgnored(_logger);
        }

        return id;
    }

    /// <summary>
    /// Slides the session's expiry in the background (not the request's token: the response may be long gone; the store
    /// bounds the call with its own timeout, and the circuit breaker fails it at once while the store is down).
    /// </summary>
    private async Task KeepAliveAsync(string sessionId)
    {
        try
        {
            await _store.KeepAliveAsync(sessionId, CancellationToken.None);
        }
        catch (StoreCircuitOpenException)
        {
            // The outage is logged once, when the circuit opened.
        }
        catch (Exception ex)
        {
            // Best effort, as classic: a request that uses no session does not fail because sliding failed.
            Log.KeepAliveFailed(_logger, ex);
        }
    }

    /// <summary>A store failure at acquire: logged with its exception, unless the circuit breaker already said the store is down.</summary>
    private void LogStoreFailure(Exception ex, string operation)
    {
        if (ex is StoreCircuitOpenException)
        {
            Log.StoreCircuitRejected(_logger, operation);
        }
        else
        {
            Log.StoreFailed(_logger, ex, operation);
        }
    }

    private static async Task FailAsync(HttpContext context, int statusCode, string message)
    {
        if (context.Response.HasStarted)
        {
            context.Abort();
            return;
        }

        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync(message, context.RequestAborted);
    }
}
