namespace SessionLocking;

/// <summary>Messages shared by the contracts and the middleware, so every path says the same thing.</summary>
internal static class SessionStateMessages
{
    public const string Disabled =
        "Session state is disabled for this endpoint (SessionStateBehavior.Disabled, from [SessionState], WithSessionState, the configured DefaultBehavior or SetSessionStateBehavior). Use SessionStateBehavior.ReadOnly or Required to access the session.";
}
