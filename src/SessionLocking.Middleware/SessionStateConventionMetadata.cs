namespace SessionLocking;

/// <summary>The metadata <c>WithSessionState</c> adds; attributes win over it.</summary>
internal sealed class SessionStateConventionMetadata : ISessionStateMetadata
{
    public SessionStateConventionMetadata(SessionStateBehavior behavior) => Behavior = behavior;

    public SessionStateBehavior Behavior { get; }
}
