namespace SessionLocking.Redis;

/// <summary>
/// Thrown by the Redis session store when Redis could not be reached, did not answer within
/// <see cref="RedisSessionStoreOptions.OperationTimeout"/>, or answered with an error. The message names the
/// operation and the limit; <see cref="Exception.InnerException"/> holds the client's own exception, if any.
/// The store never turns a failure into an empty or missing session: when this is thrown while a request
/// acquires its session, the middleware answers 503 (Service Unavailable) and logs event <c>StoreFailed</c>;
/// when it is thrown at the end of a request (write-back or release), the request fails and the lock expires
/// by its time to live.
/// </summary>
public sealed class SessionStoreUnavailableException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, and the limit that applied.</param>
    public SessionStoreUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What failed, and the limit that applied.</param>
    /// <param name="innerException">The Redis client's exception.</param>
    public SessionStoreUnavailableException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>The store operation that failed, such as <c>acquire</c> or <c>write-back</c>.</summary>
    public string? Operation { get; init; }
}
