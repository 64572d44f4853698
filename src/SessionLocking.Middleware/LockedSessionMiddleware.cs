using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SessionLocking.Diagnostics;
using SessionLocking.Locking;
using SessionLocking.Serialization;

namespace SessionLocking;

/// <summary>
/// Gives each request the session state its endpoint asks for, with classic ASP.NET locking: acquire before
/// the endpoint, release (writing back what changed, fenced by the lock id) after it.
/// </summary>
internal sealed class LockedSessionMiddleware
{
    private const string QueueFullMessage = "The request queue limit of the session is exceeded.";
    private const string WaitTimedOutMessage = "Timed out waiting for the session lock: another request of this session holds it.";
    private const string StoreUnavailableMessage = "The session store is unavailable.";

    private readonly RequestDelegate _next;
    private readonly LockedSessionOptions _options;
    private readonly SessionLockCoordinator _coordinator;
    private readonly InstrumentedSessionStateStore _store;
    private readonly SessionValueCodec _codec;
    private readonly ILogger _logger;
    private readonly SessionLockingMetrics _metrics;
    private readonly SessionCookie _cookie;

    public LockedSessionMiddleware(
        RequestDelegate next,
        IOptions<LockedSessionOptions> options,
        SessionLockCoordinator coordinator,
        InstrumentedSessionStateStore store,
        SessionValueCodec codec,
        ILogger<LockedSessionMiddleware> logger,
        SessionLockingMetrics metrics,
        SessionCookie cookie)
    {
        _cookie = cookie;
        _next = next;
        _options = options.Value;
        _coordinator = coordinator;
        _store = store;
        _codec = codec;
        _logger = logger;
        _metrics = metrics;
    }

    public async Task InvokeAsync(HttpContext context)
    {
        var endpoint = context.GetEndpoint();
        var behavior = endpoint is null
            ? SessionStateBehavior.Disabled
            : SessionStateBehaviorResolver.Resolve(context, endpoint, _options.DefaultBehavior);
        var cookieId = ReadSessionId(context);

        if (behavior == SessionStateBehavior.Disabled)
        {
            // Requests without an endpoint (404s) get no session at all; Disabled endpoints get one that refuses use.
            if (endpoint is not null)
            {
                SetFeature(context, new LockedSessionFeature(behavior, null));
            }

            await KeepAliveAsync(cookieId, context.RequestAborted);
            await _next(context);
            return;
        }

        LockAcquisition acquisition;
        var activity = SessionLockingActivities.Start("sessionlocking.acquire", behavior, cookieId ?? "new");
        try
        {
            acquisition = await AcquireAsync(behavior, cookieId, context.RequestAborted);
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client left while waiting: it has left the queue, and there is no one to answer.
            activity.Finish("cancelled");
            return;
        }
        catch (Exception ex)
        {
            activity.Finish("store_failed", ex);
            Log.StoreFailed(_logger, ex, "acquire");
            await FailAsync(context, StatusCodes.Status503ServiceUnavailable, StoreUnavailableMessage);
            return;
        }

        switch (acquisition.Status)
        {
            case AcquireStatus.QueueFull:
                activity.Finish("queue_full");
                await FailAsync(context, StatusCodes.Status429TooManyRequests, QueueFullMessage);
                return;
            case AcquireStatus.TimedOut:
                activity.Finish("timed_out");
                await FailAsync(context, StatusCodes.Status503ServiceUnavailable, WaitTimedOutMessage);
                return;
        }

        activity.Finish(acquisition.Waited > TimeSpan.Zero ? "acquired_after_wait" : "acquired");

        var session = new LockedSession(
            acquisition.SessionId,
            acquisition.StoreResult.Data,
            behavior == SessionStateBehavior.ReadOnly,
            _store.Mode,
            _codec,
            _options,
            () => context.Response.HasStarted);
        SetFeature(context, new LockedSessionFeature(behavior, session));

        if (behavior == SessionStateBehavior.ReadOnly)
        {
            await _next(context);
            if (session.ReadOnlyChangeAttempted)
            {
                Log.ReadOnlyChangesDiscarded(_logger, new SessionKey(session.OriginalId));
            }

            return;
        }

        context.Response.OnStarting(OnResponseStarting, (this, context, session));
        var http10 = Http10ResponseBuffer.InstallFor(context);
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
            // Classic: an endpoint that failed releases the lock without writing.
            http10?.Discard();
            Log.EndpointFailedNotSaved(_logger, new SessionKey(session.OriginalId));
            await ReleaseWithoutSavingAsync(acquisition);
            throw;
        }

        try
        {
            await CompleteAsync(session, acquisition);
        }
        catch
        {
            http10?.Discard();
            throw;
        }

        if (http10 is not null)
        {
            await http10.SendAsync();
        }
    }

    /// <summary>Picks the session id and takes the lock (Required) or waits for writers and loads (ReadOnly).</summary>
    private async ValueTask<LockAcquisition> AcquireAsync(SessionStateBehavior behavior, string? cookieId, CancellationToken cancellationToken)
    {
        if (cookieId is null)
        {
            return behavior == SessionStateBehavior.Required
                ? await _coordinator.AcquireAsync(SessionIds.Create(), behavior, createIfMissing: true, cancellationToken)
                : NewReadOnlySession(SessionIds.Create());
        }

        var regenerate = _options.RegenerateUnknownSessionIds;
        var acquisition = await _coordinator.AcquireAsync(
            cookieId, behavior, createIfMissing: behavior == SessionStateBehavior.Required && !regenerate, cancellationToken);
        if (acquisition.Status != AcquireStatus.Acquired || acquisition.StoreResult.Status != SessionStoreStatus.NotFound || !regenerate)
        {
            return acquisition;
        }

        // A well-formed id the store does not know: never adopt it (session fixation); start a fresh session.
        Log.UnknownSessionIdRegenerated(_logger);
        _coordinator.Release(acquisition);
        return behavior == SessionStateBehavior.Required
            ? await _coordinator.AcquireAsync(SessionIds.Create(), behavior, createIfMissing: true, cancellationToken)
            : NewReadOnlySession(SessionIds.Create());
    }

    private static LockAcquisition NewReadOnlySession(string sessionId) =>
        new(AcquireStatus.Acquired, SessionStoreResult.NotFound(), TimeSpan.Zero, null, sessionId);

    /// <summary>The classic release, in order: abandoned → remove; new id → move; changed → write back; else release. All fenced.</summary>
    private async Task CompleteAsync(LockedSession session, LockAcquisition acquisition)
    {
        // The request's own token is not used: once the endpoint has run, its changes must be saved and the
        // lock released even if the client has gone. The store bounds each call with its own timeout.
        var cancellationToken = CancellationToken.None;
        var sessionId = session.OriginalId;
        var lockId = acquisition.StoreResult.LockId;
        var sessionKey = new SessionKey(sessionId);
        bool accepted;
        var changesLost = true;
        try
        {
            if (session.IsAbandoned)
            {
                accepted = session.IsNewSession
                    ? await _store.ReleaseAsync(sessionId, lockId, cancellationToken)
                    : await _store.RemoveAsync(sessionId, lockId, cancellationToken);
                Log.SessionAbandoned(_logger, sessionKey);
            }
            else if (session.IsIdRegenerated && session.WillBeStored)
            {
                accepted = await MoveToNewIdAsync(session, acquisition, cancellationToken);
            }
            else
            {
                SessionChanges? changes;
                try
                {
                    changes = session.GetChanges();
                }
                catch (SessionSerializationException ex)
                {
                    Log.WriteBackFailed(_logger, ex, sessionKey, ex.Message);
                    await _store.ReleaseAsync(sessionId, lockId, cancellationToken);
                    throw;
                }

                changesLost = changes is not null;
                accepted = changes is null
                    ? await _store.ReleaseAsync(sessionId, lockId, cancellationToken)
                    : await _store.WriteAndReleaseAsync(sessionId, lockId, changes, cancellationToken);
            }
        }
        catch (Exception ex) when (ex is not SessionSerializationException)
        {
            Log.WriteBackFailed(_logger, ex, sessionKey, "the session store failed");
            throw;
        }
        finally
        {
            _coordinator.Release(acquisition);
        }

        if (!accepted)
        {
            _metrics.FencedWriteRejected();
            Log.WriteBackRejected(_logger, sessionKey, lockId);
            if (changesLost)
            {
                throw new SessionLockLostException(
                    "The session lock of this request was force-released after the execution timeout (LockedSessionOptions.ExecutionTimeout), so its session changes were rejected and not saved. Another request may hold the session now; its data is untouched.");
            }
        }
    }

    /// <summary>Writes the whole session under its new id, then removes the old one (fenced by the old lock).</summary>
    private async Task<bool> MoveToNewIdAsync(LockedSession session, LockAcquisition acquisition, CancellationToken cancellationToken)
    {
        var snapshot = session.GetSnapshot();
        var target = await _coordinator.AcquireAsync(session.SessionID, SessionStateBehavior.Required, createIfMissing: true, cancellationToken);
        try
        {
            if (target.Status != AcquireStatus.Acquired || target.StoreResult.Status != SessionStoreStatus.NotFound
                || !await _store.WriteAndReleaseAsync(session.SessionID, target.StoreResult.LockId, snapshot, cancellationToken))
            {
                throw new InvalidOperationException("The session could not be stored under its new id.");
            }
        }
        finally
        {
            _coordinator.Release(target);
        }

        Log.SessionIdRegenerated(_logger, new SessionKey(session.OriginalId), new SessionKey(session.SessionID));
        return session.IsNewSession
            ? await _store.ReleaseAsync(session.OriginalId, acquisition.StoreResult.LockId, cancellationToken)
            : await _store.RemoveAsync(session.OriginalId, acquisition.StoreResult.LockId, cancellationToken);
    }

    private async Task ReleaseWithoutSavingAsync(LockAcquisition acquisition)
    {
        try
        {
            await _store.ReleaseAsync(acquisition.SessionId, acquisition.StoreResult.LockId, CancellationToken.None);
        }
        catch (Exception ex)
        {
            // The endpoint's own exception is the one to report; the lock expires by its TTL.
            Log.StoreFailed(_logger, ex, "release");
        }
        finally
        {
            _coordinator.Release(acquisition);
        }
    }

    private static void SetFeature(HttpContext context, LockedSessionFeature feature)
    {
        context.Features.Set<ISessionFeature>(feature);
        context.Features.Set<ILockedSessionFeature>(feature);
    }

    /// <summary>
    /// Sends the cookie of a session that is new (or got a new id) and will be stored; a new session nobody
    /// wrote gets no cookie, as classic removed the cookie it had planned. Also drops Content-Length: the
    /// write-back runs after the endpoint, and if it fails the client must not already hold a complete
    /// response. Without a length the response ends only when the pipeline completes (final chunk or
    /// END_STREAM), so a failed write-back aborts it where the client can see it. HTTP/1.0 has neither: its
    /// response is held in <see cref="Http10ResponseBuffer"/> until the write-back succeeded, so it keeps its length.
    /// </summary>
    private static Task OnResponseStarting(object state)
    {
        var (middleware, context, session) = ((LockedSessionMiddleware, HttpContext, LockedSession))state;
        if (context.Response.ContentLength > 0 && !HttpProtocol.IsHttp10(context.Request.Protocol))
        {
            context.Response.ContentLength = null;
        }

        if ((session.IsNewSession || session.IsIdRegenerated) && session.WillBeStored)
        {
            middleware._cookie.Write(context, session.SessionID);
            session.CookieIssued = true;
        }
        else if (session.IsAbandoned && !session.IsNewSession && middleware._options.RegenerateUnknownSessionIds)
        {
            // The id is dead and would only be replaced on the next request: let the browser forget it now.
            // (With classic reuse of unknown ids, classic kept the cookie and so do we.)
            middleware._cookie.Delete(context);
        }

        return Task.CompletedTask;
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

    private async Task KeepAliveAsync(string? sessionId, CancellationToken cancellationToken)
    {
        if (sessionId is null || !_options.KeepAliveWithoutSession)
        {
            return;
        }

        try
        {
            await _store.KeepAliveAsync(sessionId, cancellationToken);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Best effort, as classic: a request that uses no session does not fail because sliding failed.
            Log.KeepAliveFailed(_logger, ex);
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
