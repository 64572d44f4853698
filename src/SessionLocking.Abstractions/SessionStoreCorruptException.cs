namespace SessionLocking;

/// <summary>
/// Thrown by a session store when a session's stored record cannot be trusted: a number it keeps (the session's
/// timeout, its last fencing token, a lock's token or acquisition time) is not a plain non-negative integer, or the
/// record has the wrong shape, because something other than the store changed it. The store takes no lock when it
/// throws this, and drops the corrupt part so that the next request starts afresh; the message says what was corrupt.
/// While a request acquires its session, the middleware answers 503 (Service Unavailable), logs event
/// <c>StoreFailed</c> and counts <c>sessionlocking.store.failures</c>.
/// </summary>
public sealed class SessionStoreCorruptException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was corrupt, and what the store did about it.</param>
    public SessionStoreCorruptException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What was corrupt, and what the store did about it.</param>
    /// <param name="innerException">The store client's exception that carried the store's answer, if any.</param>
    public SessionStoreCorruptException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>The store operation that found the corrupt record, such as <c>acquire</c>.</summary>
    public string? Operation { get; init; }

    /// <summary>What was corrupt, such as <c>session timeout</c> or <c>lock token</c>.</summary>
    public string? What { get; init; }
}
