namespace SessionLocking;

/// <summary>
/// Declares how a controller, action or endpoint handler uses session state, exactly where
/// <c>System.Web.Mvc.SessionStateAttribute</c> stood. An attribute on an action wins over one on its
/// controller; a controller inherits the attribute of its base class. Attributes win over
/// conventions added with <c>WithSessionState</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false, Inherited = true)]
public sealed class SessionStateAttribute : Attribute, ISessionStateMetadata
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="behavior">How the request uses session state.</param>
    public SessionStateAttribute(SessionStateBehavior behavior)
    {
        if (!Enum.IsDefined(behavior))
        {
            throw new ArgumentOutOfRangeException(nameof(behavior), behavior, "Unknown session state behavior.");
        }

        Behavior = behavior;
    }

    /// <summary>How the request uses session state.</summary>
    public SessionStateBehavior Behavior { get; }
}
