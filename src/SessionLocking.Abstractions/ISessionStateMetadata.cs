namespace SessionLocking;

/// <summary>
/// Endpoint metadata that says how an endpoint uses session state. <see cref="SessionStateAttribute"/>
/// implements it, and so does the metadata that <c>WithSessionState</c> adds to endpoints and route groups.
/// </summary>
public interface ISessionStateMetadata
{
    /// <summary>How the endpoint uses session state.</summary>
    SessionStateBehavior Behavior { get; }
}
