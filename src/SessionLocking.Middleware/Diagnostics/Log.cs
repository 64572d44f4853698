using Microsoft.Extensions.Logging;

namespace SessionLocking.Diagnostics;

/// <summary>Every log event of SessionLocking, with stable event ids (listed in docs/configuration.md).</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Session {SessionKey} is locked by another request; waiting ({Behavior}).", EventName = "LockWaitStarted")]
    public static partial void LockWaitStarted(ILogger logger, SessionKey sessionKey, SessionStateBehavior behavior);

    [LoggerMessage(2, LogLevel.Debug, "Session {SessionKey} acquired ({Behavior}) after waiting {WaitedMilliseconds} ms.", EventName = "LockAcquiredAfterWait")]
    public static partial void LockAcquiredAfterWait(ILogger logger, SessionKey sessionKey, SessionStateBehavior behavior, double waitedMilliseconds);

    [LoggerMessage(3, LogLevel.Warning, "Session {SessionKey}: the lock {HolderLockId} was held for {LockAgeSeconds} s by {HolderEndpoint}, past the execution timeout; it was force-released.", EventName = "LockForceReleased")]
    public static partial void LockForceReleased(ILogger logger, SessionKey sessionKey, SessionLockId holderLockId, double lockAgeSeconds, string holderEndpoint);

    [LoggerMessage(4, LogLevel.Warning, "Session {SessionKey}: the request queue limit of the session ({Limit}) is exceeded; the request fails with 429. The lock is held by {HolderEndpoint} (for {HeldSeconds} s).", EventName = "QueueLimitExceeded")]
    public static partial void QueueLimitExceeded(ILogger logger, SessionKey sessionKey, int limit, string holderEndpoint, double heldSeconds);

    [LoggerMessage(5, LogLevel.Warning, "Session {SessionKey}: waited {WaitedSeconds} s for the session lock, past the lock wait timeout; the request fails with 503. The lock is held by {HolderEndpoint} (for {HeldSeconds} s).", EventName = "LockWaitTimedOut")]
    public static partial void LockWaitTimedOut(ILogger logger, SessionKey sessionKey, double waitedSeconds, string holderEndpoint, double heldSeconds);

    [LoggerMessage(6, LogLevel.Error, "Session {SessionKey}: the lock {LockId} was lost before the request ended (force-released after the execution timeout); its session changes were rejected and not saved.", EventName = "WriteBackRejected")]
    public static partial void WriteBackRejected(ILogger logger, SessionKey sessionKey, SessionLockId lockId);

    [LoggerMessage(7, LogLevel.Warning, "Session {SessionKey}: the read-only request to {Endpoint} changed the session ({Changes}); the changes are not saved. Mark the endpoint SessionStateBehavior.Required if it must change the session.", EventName = "ReadOnlyChangesDiscarded")]
    public static partial void ReadOnlyChangesDiscarded(ILogger logger, SessionKey sessionKey, string? endpoint, string changes);

    [LoggerMessage(8, LogLevel.Error, "The session store failed during {Operation}; the request fails with 503.", EventName = "StoreFailed")]
    public static partial void StoreFailed(ILogger logger, Exception exception, string operation);

    [LoggerMessage(9, LogLevel.Debug, "A session id unknown to the store was replaced by a new one.", EventName = "UnknownSessionIdRegenerated")]
    public static partial void UnknownSessionIdRegenerated(ILogger logger);

    [LoggerMessage(10, LogLevel.Debug, "A malformed session cookie was ignored.", EventName = "InvalidSessionIdIgnored")]
    public static partial void InvalidSessionIdIgnored(ILogger logger);

    [LoggerMessage(11, LogLevel.Debug, "Session {SessionKey} was abandoned and removed.", EventName = "SessionAbandoned")]
    public static partial void SessionAbandoned(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(12, LogLevel.Information, "Session {SessionKey} got a new id {NewSessionKey}.", EventName = "SessionIdRegenerated")]
    public static partial void SessionIdRegenerated(ILogger logger, SessionKey sessionKey, SessionKey newSessionKey);

    [LoggerMessage(13, LogLevel.Warning, "Could not subscribe to lock releases of session {SessionKey}; waiting falls back to polling.", EventName = "ReleaseSubscriptionFailed")]
    public static partial void ReleaseSubscriptionFailed(ILogger logger, Exception exception, SessionKey sessionKey);

    [LoggerMessage(14, LogLevel.Debug, "Session {SessionKey} was created.", EventName = "SessionCreated")]
    public static partial void SessionCreated(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(15, LogLevel.Warning, "Sliding the expiry of a session failed (keep-alive); the request goes on.", EventName = "KeepAliveFailed")]
    public static partial void KeepAliveFailed(ILogger logger, Exception exception);

    [LoggerMessage(16, LogLevel.Debug, "Session {SessionKey}: the endpoint failed, so the session was released without saving.", EventName = "EndpointFailedNotSaved")]
    public static partial void EndpointFailedNotSaved(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(17, LogLevel.Error, "Session {SessionKey}: the session could not be saved: {Reason}", EventName = "WriteBackFailed")]
    public static partial void WriteBackFailed(ILogger logger, Exception exception, SessionKey sessionKey, string reason);

    [LoggerMessage(18, LogLevel.Debug, "Session {SessionKey}: the client disconnected while waiting for the lock.", EventName = "WaitAbandonedByClient")]
    public static partial void WaitAbandonedByClient(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(19, LogLevel.Warning, "Session {SessionKey}: the client left while the lock {LockId} was being taken; the lock was released as soon as the store answered.", EventName = "AbandonedLockReleased")]
    public static partial void AbandonedLockReleased(ILogger logger, SessionKey sessionKey, SessionLockId lockId);

    [LoggerMessage(20, LogLevel.Warning, "Session {SessionKey}: more than {Limit} abandoned lock-taking calls are being watched; a lock this one takes expires by its time to live in the store.", EventName = "AbandonedAcquireNotWatched")]
    public static partial void AbandonedAcquireNotWatched(ILogger logger, SessionKey sessionKey, int limit);

    [LoggerMessage(30, LogLevel.Warning, "Session {SessionKey} was never stored and its id never left the server; releasing its lock failed, which loses nothing (the lock expires by its time to live). The request goes on.", EventName = "UnstoredSessionReleaseFailed")]
    public static partial void NeverSharedReleaseFailed(ILogger logger, Exception exception, SessionKey sessionKey);

    [LoggerMessage(31, LogLevel.Warning, "Session {SessionKey}: the responses held on this server until their sessions are saved reached MaxTotalHeldResponseBytes ({Limit} bytes); the request fails with 503 and nothing of it is saved.", EventName = "HeldResponsesOverServerLimit")]
    public static partial void HeldResponsesOverServerLimit(ILogger logger, SessionKey sessionKey, long limit);

    // Events 50-52 mean what ASP.NET Core session's events of the same names mean, at the same levels, so that
    // dashboards and alerts built on them keep working after a move to SessionLocking.

    [LoggerMessage(50, LogLevel.Information, "Session started; Key:{SessionKey}.", EventName = "SessionStarted")]
    public static partial void SessionStarted(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(51, LogLevel.Debug, "Session stored; Key:{SessionKey}, Count:{Count}.", EventName = "SessionStored")]
    public static partial void SessionStored(ILogger logger, SessionKey sessionKey, int count);

    [LoggerMessage(52, LogLevel.Information, "Accessing expired session; Key:{SessionKey}.", EventName = "AccessingExpiredSession")]
    public static partial void AccessingExpiredSession(ILogger logger, SessionKey sessionKey);

    [LoggerMessage(53, LogLevel.Error, "The session store failed repeatedly; requests that need a session fail at once (503) for {BreakMilliseconds} ms, then one probes it.", EventName = "StoreCircuitOpened")]
    public static partial void StoreCircuitOpened(ILogger logger, Exception? exception, double breakMilliseconds);

    [LoggerMessage(54, LogLevel.Information, "The session store answers again; session requests are served.", EventName = "StoreCircuitClosed")]
    public static partial void StoreCircuitClosed(ILogger logger);

    [LoggerMessage(55, LogLevel.Debug, "A request failed at once with 503 during {Operation}: the session store is known to be down (circuit open).", EventName = "StoreCircuitRejected")]
    public static partial void StoreCircuitRejected(ILogger logger, string operation);

    [LoggerMessage(40, LogLevel.Warning, "Session {SessionKey}: the acquire failed after the store had taken the lock {LockId}; the lock was released.", EventName = "FailedAcquireLockReleased")]
    public static partial void FailedAcquireLockReleased(ILogger logger, SessionKey sessionKey, SessionLockId lockId);

    [LoggerMessage(56, LogLevel.Debug, "A keep-alive was skipped: {Limit} are still running in the background (the store is slow); the session slides with a later request.", EventName = "KeepAliveSkipped")]
    public static partial void KeepAliveSkipped(ILogger logger, int limit);

    [LoggerMessage(70, LogLevel.Error, "Session {SessionKey}: the OnSessionEnd handler ({Reason}) threw; the end is not raised again.", EventName = "SessionEndHandlerFailed")]
    public static partial void SessionEndHandlerFailed(ILogger logger, Exception exception, SessionKey sessionKey, SessionEndReason reason);

    [LoggerMessage(71, LogLevel.Error, "Session {SessionKey}: the OnSessionEnd handler ({Reason}) still runs after {TimeoutMilliseconds} ms (SessionEndHandlerTimeout); its slot goes to the next end and the end is not raised again.", EventName = "SessionEndHandlerHung")]
    public static partial void SessionEndHandlerHung(ILogger logger, SessionKey sessionKey, SessionEndReason reason, double timeoutMilliseconds);

    [LoggerMessage(72, LogLevel.Warning, "Looking for ended sessions failed; the next sweep tries again.", EventName = "SessionEndSweepFailed")]
    public static partial void SessionEndSweepFailed(ILogger logger, Exception exception);

    [LoggerMessage(73, LogLevel.Warning, "Session {SessionKey}: its end was raised but the store could not forget it; another server raises it again after the claim's lease.", EventName = "SessionEndCompleteFailed")]
    public static partial void SessionEndCompleteFailed(ILogger logger, Exception exception, SessionKey sessionKey);

    [LoggerMessage(74, LogLevel.Debug, "Session {SessionKey} ended ({Reason}); OnSessionEnd ran.", EventName = "SessionEndRaised")]
    public static partial void SessionEndRaised(ILogger logger, SessionKey sessionKey, SessionEndReason reason);

    [LoggerMessage(75, LogLevel.Warning, "OnSessionEnd is set, but the session store ({StoreType}) cannot raise session ends (it does not implement ISessionEndStore); the handler is never called.", EventName = "SessionEndsNotSupported")]
    public static partial void SessionEndsNotSupported(ILogger logger, string storeType);

    [LoggerMessage(76, LogLevel.Warning, "Shutdown: {Count} OnSessionEnd handlers were still running when the host's shutdown timeout ran out; their ends are raised again by another server after the claim's lease.", EventName = "SessionEndHandlersLeftRunning")]
    public static partial void SessionEndHandlersLeftRunning(ILogger logger, int count);

    [LoggerMessage(77, LogLevel.Warning, "Session {SessionKey}: the claim of its end ran out before the handler finished; another server may have raised it again.", EventName = "SessionEndClaimLost")]
    public static partial void SessionEndClaimLost(ILogger logger, SessionKey sessionKey);
}
