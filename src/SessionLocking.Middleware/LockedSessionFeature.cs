using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace SessionLocking;

/// <summary>The request's session state, put on <c>HttpContext.Features</c> as both <see cref="ILockedSessionFeature"/> and <see cref="ISessionFeature"/>.</summary>
internal sealed class LockedSessionFeature : ILockedSessionFeature, ISessionFeature
{
    public LockedSessionFeature(SessionStateBehavior behavior, LockedSession? session)
    {
        Behavior = behavior;
        State = session;
        Session = session is null ? DisabledSession.Instance : session;
    }

    public SessionStateBehavior Behavior { get; }

    public LockedSession? State { get; }

    IHttpSessionState? ILockedSessionFeature.Session => State;

    /// <summary>ASP.NET Core's view; assigning replaces it, as with ASP.NET Core's own session feature.</summary>
    public ISession Session { get; set; }
}
