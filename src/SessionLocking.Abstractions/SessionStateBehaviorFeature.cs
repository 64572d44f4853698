namespace SessionLocking;

/// <summary>
/// Carries a runtime override of the session state behaviour (classic
/// <c>HttpContext.SetSessionStateBehavior</c>); set it through
/// <see cref="SessionStateHttpContextExtensions.SetSessionStateBehavior"/>.
/// </summary>
public sealed class SessionStateBehaviorFeature
{
    /// <summary>Creates the feature.</summary>
    /// <param name="behavior">The behaviour that wins over attributes, metadata and the default.</param>
    public SessionStateBehaviorFeature(SessionStateBehavior behavior) => Behavior = behavior;

    /// <summary>The behaviour that wins over attributes, metadata and the default.</summary>
    public SessionStateBehavior Behavior { get; }
}
