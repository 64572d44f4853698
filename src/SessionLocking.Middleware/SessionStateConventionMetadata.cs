namespace SessionLocking;

/// <summary>The metadata <c>WithSessionState</c> adds; attributes win over it.</summary>
internal sealed class SessionStateConventionMetadata : ISessionStateMetadata
{
    public SessionStateConventionMetadata(SessionStateBehavior behavior, TimeSpan? lockWaitTimeout)
    {
        Behavior = behavior;
        LockWaitTimeout = lockWaitTimeout;
    }

    public SessionStateBehavior Behavior { get; }

    public TimeSpan? LockWaitTimeout { get; }
}
