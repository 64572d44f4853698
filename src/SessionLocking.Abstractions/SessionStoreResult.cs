namespace SessionLocking;

/// <summary>What a store read reports, modelled on classic <c>GetItemExclusive</c>/<c>GetItem</c>.</summary>
public readonly struct SessionStoreResult
{
    private SessionStoreResult(SessionStoreStatus status, SessionData? data, SessionLockId lockId, TimeSpan lockAge)
    {
        Status = status;
        Data = data;
        LockId = lockId;
        LockAge = lockAge;
    }

    /// <summary>What happened.</summary>
    public SessionStoreStatus Status { get; }

    /// <summary>The loaded session when <see cref="Status"/> is <see cref="SessionStoreStatus.Found"/>.</summary>
    public SessionData? Data { get; }

    /// <summary>
    /// After an exclusive get that succeeded: the caller's own lock. When <see cref="Status"/> is
    /// <see cref="SessionStoreStatus.Locked"/>: the holder's lock. <c>default</c> when no lock was taken
    /// (a shared get, or NotFound without <c>createIfMissing</c>); stores never issue the token 0.
    /// </summary>
    public SessionLockId LockId { get; }

    /// <summary>True when the result carries a lock (the caller's, or the holder's); false for <c>default</c>.</summary>
    public bool HasLock => LockId != default;

    /// <summary>When locked by another: how long that lock has been held, measured by the store's clock.</summary>
    public TimeSpan LockAge { get; }

    /// <summary>The session was loaded; <paramref name="lockId"/> is the caller's lock (default for a shared get).</summary>
    /// <param name="data">The loaded data.</param>
    /// <param name="lockId">The caller's lock, after an exclusive get.</param>
    public static SessionStoreResult Found(SessionData data, SessionLockId lockId = default) =>
        new(SessionStoreStatus.Found, data ?? throw new ArgumentNullException(nameof(data)), lockId, TimeSpan.Zero);

    /// <summary>The session does not exist; <paramref name="lockId"/> is the caller's lock when one was taken.</summary>
    /// <param name="lockId">The caller's lock on the new session, after an exclusive get that created it.</param>
    public static SessionStoreResult NotFound(SessionLockId lockId = default) =>
        new(SessionStoreStatus.NotFound, null, lockId, TimeSpan.Zero);

    /// <summary>Another request holds the lock.</summary>
    /// <param name="holder">The holder's lock.</param>
    /// <param name="lockAge">How long the holder has held it, by the store's clock.</param>
    public static SessionStoreResult Locked(SessionLockId holder, TimeSpan lockAge) =>
        new(SessionStoreStatus.Locked, null, holder, lockAge < TimeSpan.Zero ? TimeSpan.Zero : lockAge);
}
