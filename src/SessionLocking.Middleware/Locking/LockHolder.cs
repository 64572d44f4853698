namespace SessionLocking.Locking;

/// <summary>
/// Who held a session's lock as a waiter last saw it: the holder's endpoint (null when the store does not know it) and
/// how long it had held the lock then.
/// </summary>
/// <param name="Endpoint">The holder's endpoint (route pattern or display name); null when unknown.</param>
/// <param name="Held">How long it had held the lock.</param>
internal readonly record struct LockHolder(string? Endpoint, TimeSpan Held)
{
    /// <summary>How the holder is named in logs and answers.</summary>
    public string Display => Endpoint ?? "another request";
}
