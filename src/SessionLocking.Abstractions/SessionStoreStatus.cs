namespace SessionLocking;

/// <summary>The outcome of a store read.</summary>
public enum SessionStoreStatus
{
    /// <summary>The session exists and was loaded (and, for an exclusive get, is now locked by the caller).</summary>
    Found = 0,

    /// <summary>
    /// The session does not exist. After an exclusive get with <c>createIfMissing</c>, the caller holds the
    /// lock on the new, still unstored session.
    /// </summary>
    NotFound = 1,

    /// <summary>Another request holds the lock; <see cref="SessionStoreResult.LockId"/> and <see cref="SessionStoreResult.LockAge"/> describe it.</summary>
    Locked = 2,
}
