namespace SessionLocking;

/// <summary>
/// Endpoint metadata that says how an endpoint uses session state. <see cref="SessionStateAttribute"/>
/// implements it, and so does the metadata that <c>WithSessionState</c> adds to endpoints and route groups.
/// </summary>
public interface ISessionStateMetadata
{
    /// <summary>How the endpoint uses session state.</summary>
    SessionStateBehavior Behavior { get; }

    /// <summary>
    /// How long a request to the endpoint waits for the session's lock before it is answered 503, instead of
    /// <c>LockedSessionOptions.LockWaitTimeout</c>. Null (or not positive) when this metadata sets no limit of its
    /// own: a less specific place, else the application's option, decides.
    /// </summary>
    TimeSpan? LockWaitTimeout { get; }
}
