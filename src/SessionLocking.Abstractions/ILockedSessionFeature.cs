namespace SessionLocking;

/// <summary>
/// The feature the middleware puts on <c>HttpContext.Features</c> once it has decided how the request uses
/// session state.
/// </summary>
public interface ILockedSessionFeature
{
    /// <summary>The resolved behaviour (never <see cref="SessionStateBehavior.Default"/>).</summary>
    SessionStateBehavior Behavior { get; }

    /// <summary>The session, or null when the behaviour is <see cref="SessionStateBehavior.Disabled"/>.</summary>
    IHttpSessionState? Session { get; }
}
