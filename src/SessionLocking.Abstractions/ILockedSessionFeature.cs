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

    /// <summary>
    /// Saves the session now (fenced by the request's lock) and releases its lock, for an endpoint that has made its
    /// last change and goes on working; see <c>HttpContext.ReleaseSessionAsync()</c>. Does nothing by default (a
    /// read-only or disabled request, and a feature that cannot release early).
    /// </summary>
    Task ReleaseAsync() => Task.CompletedTask;
}
