using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
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
    /// <summary>Keep-alives running in the background at once, at most (see <see cref="StartKeepAlive"/>).</summary>
    internal const int MaxKeepAlivesInFlight = 1024;

    private const string StoreUnavailableMessage = "The session store is unavailable.";
    private const string HeldResponsesFullMessage = "The server holds too many responses until their sessions are saved; nothing of this request was saved. Try again.";
    private const string StoreCorruptMessage = "The stored session was corrupt and has been discarded; the next request starts a new session.";

    private readonly RequestDelegate _next;
    private int _keepAlivesInFlight;
    private readonly LockedSessionOptions _options;
    private readonly SessionLockCoordinator _locks;
    private readonly InstrumentedSessionStateStore _store;
    private readonly ISessionItemFormat _format;
    private readonly ILogger _logger;
    private readonly SessionCookie _cookie;
    private readonly HeldResponseBudget _heldResponses;
    private readonly TimeProvider _time;
    private readonly bool _serverTiming;

    public LockedSessionMiddleware(
        RequestDelegate next,
        IOptions<LockedSessionOptions> options,
        SessionLockCoordinator locks,
        InstrumentedSessionStateStore store,
        ISessionItemFormat format,
        ILogger<LockedSessionMiddleware> logger,
        SessionCookie cookie,
        HeldResponseBudget heldResponses,
        TimeProvider time,
        SessionEnds.SessionEndDispatcher sessionEnds,
        IHostEnvironment? environment = null)
    {
        _next = next;
        _options = options.Value;
        _locks = locks;
        _store = store;
        _format = format;
        _logger = logger;
        _cookie = cookie;
        _heldResponses = heldResponses;
        _time = time;
        _serverTiming = SessionServerTiming.IsOn(_options, environment);

        // The dispatcher is a parameter so that it is built, and the store records ends, before the first request.
        _ = sessionEnds;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        if (ResolveBehavior(context) is not { } behavior)
        {
            // A framework endpoint (a static asset, a health check) that nothing marked: classic never ran the session
            // module for such handlers, so no session, no keep-alive, no store call, whatever cookie comes with it.
            await RunWithoutSessionAsync(context, cookieId: null);
            return;
        }

        var cookieId = ReadSessionId(context);
        if (behavior == SessionStateBehavior.Disabled)
        {
            await RunWithoutSessionAsync(context, cookieId);
            return;
        }

        var timing = _serverTiming ? SessionServerTiming.Begin(context, _time) : null;
        var endpoint = SessionEndpointInfo.Of(context.GetEndpoint());
        await using var sessionLock = await AcquireOrAnswerAsync(context, behavior, cookieId, endpoint, timing);
        if (sessionLock is null)
        {
            return;
        }

        var session = NewSession(context, behavior, sessionLock);

        // Declared after the lock, so disposed before it: the session leaves the request with the release, on every path.
        using var feature = LockedSessionFeature.Install(context, behavior, session);
        if (behavior == SessionStateBehavior.ReadOnly)
        {
            await _next(context);
            LogDiscardedChanges(session);
            return;
        }

        await RunAndSaveAsync(context, session, sessionLock, cookieId, timing, feature);
    }

    /// <summary>
    /// The endpoint, then the release plan, then the response: no response ends, and no new id's cookie leaves, before
    /// the session was saved (see <see cref="SessionResponse"/>).
    /// </summary>
    private async Task RunAndSaveAsync(HttpContext context, LockedSession session, SessionLock sessionLock, string? cookieId, SessionServerTiming? timing, LockedSessionFeature feature)
    {
        var response = SessionResponse.Install(context, session, _cookie, _options, _heldResponses);
        var early = new EarlySessionRelease(session, response, () => SaveEarlyAsync(session, sessionLock, cookieId, timing));
        feature.Release = early.ReleaseAsync;
        if (!_options.HoldLockThroughStreams)
        {
            StreamUpgradeRelease.Install(context, early.ReleaseAsync);
            response.ReleaseBeforeEventStream(early.ReleaseAsync);
        }

        try
        {
            await RunEndpointAsync(context, session);
            if (early.Task is { } released)
            {
                // Saved already: the end of the request does nothing more for the session. A failed early save was
                // thrown to the endpoint where it awaited the release (and logged); the endpoint decided what to answer.
                await released.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
            else
            {
                await response.PrepareAsync();
                await SaveAsync(session, sessionLock, cookieId, timing);
            }
        }
        catch when (response.OverServerLimit)
        {
            // Nothing was saved (the lock's owner releases without writing, on dispose); the client may retry.
            response.Discard();
            Log.HeldResponsesOverServerLimit(_logger, new SessionKey(session.OriginalId), _heldResponses.Limit);
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, HeldResponsesFullMessage);
            return;
        }
        catch
        {
            // Nothing was saved (the lock's owner releases without writing, on dispose): answer the failure, not what was held.
            response.Discard();
            throw;
        }

        await response.SendAsync();
    }

    /// <summary>
    /// <see cref="SaveAsync"/> while the endpoint goes on: when it fails, nothing was saved and the lock is given back at
    /// once (a stream must not keep it after all); the failure is thrown to the endpoint.
    /// </summary>
    private async Task SaveEarlyAsync(LockedSession session, SessionLock sessionLock, string? cookieId, SessionServerTiming? timing)
    {
        try
        {
            await SaveAsync(session, sessionLock, cookieId, timing);
        }
        catch
        {
            await sessionLock.DisposeAsync();
            throw;
        }
    }

    /// <summary>The release plan carried out: the session written back, removed, moved or just released (fenced by the lock).</summary>
    private async Task SaveAsync(LockedSession session, SessionLock sessionLock, string? cookieId, SessionServerTiming? timing)
    {
        var plan = GetReleasePlan(session, cookieId);
        var saveStarted = timing?.SaveStarting() ?? 0;
        await using var newIdLock = await TakeNewIdAsync(plan);
        await sessionLock.CarryOutAsync(plan, newIdLock);
        timing?.Saved(saveStarted);
        LogStored(session, plan);
    }

    private SessionStateBehavior? ResolveBehavior(HttpContext context) =>
        context.GetEndpoint() is { } endpoint
            ? SessionStateBehaviorResolver.Resolve(context, endpoint, _options.DefaultBehavior)
            : SessionStateBehavior.Disabled;

    private LockedSession NewSession(HttpContext context, SessionStateBehavior behavior, SessionLock sessionLock) =>
        new(
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
    private async Task<SessionLock?> AcquireOrAnswerAsync(HttpContext context, SessionStateBehavior behavior, string? cookieId, SessionEndpointInfo endpointInfo, SessionServerTiming? timing)
    {
        var activity = SessionLockingActivities.Start(SessionLockingTelemetry.AcquireActivity, behavior, cookieId ?? "new");
        SessionLock sessionLock;
        try
        {
            var waitLimit = context.GetEndpoint() is { } endpoint ? SessionStateBehaviorResolver.ResolveLockWaitTimeout(endpoint) : null;
            sessionLock = await AcquireAsync(behavior, cookieId, waitLimit, endpointInfo, context.RequestAborted);
            if (cookieId is not null && sessionLock.Status == AcquireStatus.Acquired && sessionLock.StoreResult.Status == SessionStoreStatus.NotFound)
            {
                sessionLock = await UnknownIdAsync(sessionLock, behavior, waitLimit, endpointInfo, context.RequestAborted);
            }

            timing?.Acquired(sessionLock);
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
            AcquireStatus.QueueFull => ("queue_full", StatusCodes.Status429TooManyRequests, SessionLockAnswers.QueueFullMessage),
            AcquireStatus.TimedOut => ("timed_out", StatusCodes.Status503ServiceUnavailable, SessionLockAnswers.WaitTimedOutMessage),
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

        await SessionLockAnswers.WriteAsync(context, status, message, sessionLock.Holder);
        return null;
    }

    /// <summary>
    /// Takes the lock of the cookie's session id, or of a new one when there is none. Not async itself: its caller awaits
    /// the coordinator's answer directly (with Redis each async layer costs a state machine and a continuation per request).
    /// </summary>
    private ValueTask<SessionLock> AcquireAsync(SessionStateBehavior behavior, string? cookieId, TimeSpan? waitLimit, SessionEndpointInfo endpoint, CancellationToken cancellationToken)
    {
        if (cookieId is not null)
        {
            return _locks.AcquireAsync(
                cookieId, behavior, createIfMissing: behavior == SessionStateBehavior.Required && !_options.RegenerateUnknownSessionIds, waitLimit, endpoint, cancellationToken);
        }

        return behavior == SessionStateBehavior.Required
            ? _locks.AcquireAsync(SessionIds.Create(), behavior, createIfMissing: true, waitLimit, endpoint, cancellationToken)
            : ValueTask.FromResult(_locks.NewReadOnly(SessionIds.Create()));
    }

    /// <summary>
    /// The store does not know the cookie's well-formed id: logged; unless classic reuse is on, the id is never adopted
    /// (session fixation): nothing was taken for it, its owner ends before anything can fail, and a new id is taken.
    /// </summary>
    private async ValueTask<SessionLock> UnknownIdAsync(SessionLock sessionLock, SessionStateBehavior behavior, TimeSpan? waitLimit, SessionEndpointInfo endpoint, CancellationToken cancellationToken)
    {
        Log.AccessingExpiredSession(_logger, new SessionKey(sessionLock.SessionId));
        if (!_options.RegenerateUnknownSessionIds)
        {
            return sessionLock;
        }

        await sessionLock.DisposeAsync();
        Log.UnknownSessionIdRegenerated(_logger);
        return await AcquireAsync(behavior, cookieId: null, waitLimit, endpoint, cancellationToken);
    }

    /// <summary>
    /// A plan that moves the session to a new id needs that id's lock first (not the request's token: the endpoint has
    /// run, its changes must be saved even if the client has gone); the old lock's owner carries out the move.
    /// </summary>
    private async ValueTask<SessionLock?> TakeNewIdAsync(ReleasePlan plan) =>
        plan.NewSessionId is { } newId
            ? await _locks.AcquireAsync(newId, SessionStateBehavior.Required, createIfMissing: true, CancellationToken.None)
            : null;

    private ReleasePlan GetReleasePlan(LockedSession session, string? cookieId)
    {
        try
        {
            var plan = session.GetReleasePlan();
            var neverShared = session.IsNewSession && !session.CookieIssued && session.OriginalId != cookieId;
            return plan.Kind == ReleaseKind.Release && neverShared ? ReleasePlan.ReleaseNeverShared : plan;
        }
        catch (SessionSerializationException ex)
        {
            Log.WriteBackFailed(_logger, ex, new SessionKey(session.OriginalId), ex.Message);
            throw;
        }
    }

    /// <summary>
    /// Requests without an endpoint (404s) get no session at all; Disabled endpoints and framework endpoints get one that
    /// refuses use. A cookie id keeps its session alive (framework endpoints pass none), without waiting for it: a page
    /// that needs no session never waits for the store.
    /// </summary>
    private async Task RunWithoutSessionAsync(HttpContext context, string? cookieId)
    {
        using var feature = context.GetEndpoint() is null ? null : LockedSessionFeature.Install(context, SessionStateBehavior.Disabled, null);
        if (cookieId is not null && _options.KeepAliveWithoutSession)
        {
            StartKeepAlive(cookieId);
        }

        await _next(context);
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
    /// <summary>
    /// Starts a keep-alive unless <see cref="MaxKeepAlivesInFlight"/> are still running: a slow store must not pile up
    /// work for requests that need no session. A skipped one loses nothing but one slide of the expiry.
    /// </summary>
    private void StartKeepAlive(string sessionId)
    {
        if (Interlocked.Increment(ref _keepAlivesInFlight) > MaxKeepAlivesInFlight)
        {
            Interlocked.Decrement(ref _keepAlivesInFlight);
            Log.KeepAliveSkipped(_logger, MaxKeepAlivesInFlight);
            return;
        }

        _ = KeepAliveAsync(sessionId);
    }

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
        finally
        {
            Interlocked.Decrement(ref _keepAlivesInFlight);
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
