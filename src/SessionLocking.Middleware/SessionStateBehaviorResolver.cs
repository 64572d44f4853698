using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>
/// Which behaviour a request gets: a runtime override, else the most specific <see cref="SessionStateAttribute"/>
/// (action over controller), else endpoint or route group metadata from <c>WithSessionState</c>, else the default.
/// </summary>
internal static class SessionStateBehaviorResolver
{
    public static SessionStateBehavior Resolve(HttpContext context, Endpoint endpoint, SessionStateBehavior defaultBehavior)
    {
        var behavior = context.Features.Get<SessionStateBehaviorFeature>()?.Behavior ?? SessionStateBehavior.Default;
        if (behavior == SessionStateBehavior.Default)
        {
            // MVC lists controller attributes before action attributes, so the last one is the most specific.
            behavior = endpoint.Metadata.GetMetadata<SessionStateAttribute>()?.Behavior
                ?? endpoint.Metadata.GetMetadata<ISessionStateMetadata>()?.Behavior
                ?? SessionStateBehavior.Default;
        }

        if (behavior == SessionStateBehavior.Default)
        {
            behavior = defaultBehavior == SessionStateBehavior.Default ? SessionStateBehavior.Required : defaultBehavior;
        }

        return behavior;
    }
}
