namespace SessionLocking;

/// <summary>
/// The asynchronous, locking session store, modelled on classic <c>SessionStateStoreProviderBase</c>.
/// Every method that takes a <see cref="SessionLockId"/> is fenced: it acts only when that lock is still
/// the session's current lock, and reports whether it did. Session ids given to a store are always
/// validated by the middleware first. Implementations must be thread-safe and must never block a thread
/// while waiting for I/O.
/// </summary>
public interface ISessionStateStore
{
    /// <summary>Where the store keeps sessions, as reported by <see cref="IHttpSessionState.Mode"/>.</summary>
    SessionStateMode Mode => SessionStateMode.Custom;

    /// <summary>
    /// Takes the session's exclusive lock and loads it, in one step (classic <c>GetItemExclusive</c>).
    /// When another request holds the lock, returns <see cref="SessionStoreStatus.Locked"/> with the holder's
    /// lock id and lock age and changes nothing. When the session does not exist and
    /// <paramref name="createIfMissing"/> is true, takes the lock on the new, still unstored session (so
    /// that other requests with the same id wait) and returns <see cref="SessionStoreStatus.NotFound"/> with
    /// the caller's lock; with <paramref name="createIfMissing"/> false it returns NotFound and takes nothing.
    /// A successful get slides the session's expiry.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockTimeout">How long the lock lives in the store if never released (a crashed holder).</param>
    /// <param name="createIfMissing">Whether to lock a session that does not exist yet.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken);

    /// <summary>
    /// <see cref="GetExclusiveAsync(string, TimeSpan, bool, CancellationToken)"/>, recording in the lock which endpoint
    /// takes it (<paramref name="holderEndpoint"/>: a route pattern or endpoint display name, never user data, at most
    /// <see cref="SessionStoreResult.MaxHolderEndpointLength"/> characters), so that a request that finds the session
    /// locked learns who holds it (<see cref="SessionStoreResult.HolderEndpoint"/>). A store that cannot record it
    /// keeps the default, which ignores it.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockTimeout">How long the lock lives in the store if never released (a crashed holder).</param>
    /// <param name="createIfMissing">Whether to lock a session that does not exist yet.</param>
    /// <param name="holderEndpoint">The endpoint of the request taking the lock; null when unknown.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, CancellationToken cancellationToken) =>
        GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, cancellationToken);

    /// <summary>
    /// Loads the session without taking a lock (classic <c>GetItem</c>). Returns
    /// <see cref="SessionStoreStatus.Locked"/> while a writer holds the lock. Slides the session's expiry.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken);

    /// <summary>
    /// Writes the changes and releases the lock in one step, only if <paramref name="lockId"/> is still the
    /// current lock; otherwise changes nothing and returns false (the lock was force-released and maybe taken
    /// by another request).
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockId">The caller's lock.</param>
    /// <param name="changes">What changed.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken);

    /// <summary>
    /// Releases the lock without writing, only if <paramref name="lockId"/> is still the current lock; slides
    /// the expiry. A session that was locked while missing and never written is left missing.
    /// Returns false when the lock was no longer the caller's.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockId">The caller's lock.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken);

    /// <summary>
    /// Removes the session and its lock, only if <paramref name="lockId"/> is still the current lock
    /// (classic <c>RemoveItem</c> after <c>Abandon</c>). Returns false when the lock was no longer the caller's.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="lockId">The caller's lock.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken);

    /// <summary>
    /// Releases the lock of the holder identified by <paramref name="holderLockId"/>, and only that holder's
    /// lock: used by a waiter when the holder's lock age reached the execution timeout. Returns false when
    /// that lock was already gone.
    /// </summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="holderLockId">The lock id the waiter saw.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken);

    /// <summary>Slides the expiry of a session without loading it (classic <c>ResetItemTimeout</c>); does nothing when it does not exist.</summary>
    /// <param name="sessionId">The validated session id.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken);
}
