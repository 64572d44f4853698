using System.Reflection;
using Microsoft.AspNetCore.Components.Endpoints;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc.Abstractions;

namespace SessionLocking;

/// <summary>
/// Which behaviour a request gets: a runtime override, else the most specific <see cref="SessionStateAttribute"/>
/// (action over controller), else endpoint or route group metadata from <c>WithSessionState</c>, else the default
/// for the application's own endpoints. Endpoints the framework maps (static assets, health checks, SignalR, the
/// static-file fallback) get none: classic gave a session only to handlers that asked for one, and the static-file
/// handler never did.
/// </summary>
internal static class SessionStateBehaviorResolver
{
    /// <summary>The behaviour, or null for a framework endpoint that nothing marked: no session and no store call.</summary>
    public static SessionStateBehavior? Resolve(HttpContext context, Endpoint endpoint, SessionStateBehavior defaultBehavior)
    {
        var behavior = context.Features.Get<SessionStateBehaviorFeature>()?.Behavior ?? SessionStateBehavior.Default;
        if (behavior == SessionStateBehavior.Default)
        {
            // MVC lists controller attributes before action attributes, so the last one is the most specific.
            behavior = endpoint.Metadata.GetMetadata<SessionStateAttribute>()?.Behavior
                ?? endpoint.Metadata.GetMetadata<ISessionStateMetadata>()?.Behavior
                ?? SessionStateBehavior.Default;
        }

        if (behavior != SessionStateBehavior.Default)
        {
            return behavior;
        }

        if (!IsApplicationEndpoint(endpoint))
        {
            return null;
        }

        return defaultBehavior == SessionStateBehavior.Default ? SessionStateBehavior.Required : defaultBehavior;
    }

    /// <summary>
    /// The endpoint's own lock wait limit, or null for the application's <see cref="LockedSessionOptions.LockWaitTimeout"/>.
    /// In the behaviour's order, each place that sets no limit deferring to the next: the action's attribute, the
    /// controller's, then <c>WithSessionState</c> (the endpoint's own over its route group's).
    /// </summary>
    public static TimeSpan? ResolveLockWaitTimeout(Endpoint endpoint)
    {
        // Ordered as added: controller attributes before action attributes, group conventions before the endpoint's own.
        var metadata = endpoint.Metadata.GetOrderedMetadata<ISessionStateMetadata>();
        return LastLimit(metadata, attributes: true) ?? LastLimit(metadata, attributes: false);
    }

    private static TimeSpan? LastLimit(IReadOnlyList<ISessionStateMetadata> metadata, bool attributes)
    {
        for (var i = metadata.Count - 1; i >= 0; i--)
        {
            if ((metadata[i] is SessionStateAttribute) == attributes && metadata[i].LockWaitTimeout is { } limit && limit > TimeSpan.Zero)
            {
                return limit;
            }
        }

        return null;
    }

    /// <summary>
    /// MVC actions and Razor Pages (an action descriptor), Razor component pages, minimal API handlers (their method
    /// is in the metadata) and request delegates, unless their code is ASP.NET Core's own: <c>MapStaticAssets</c>,
    /// <c>MapHealthChecks</c>, <c>MapHub</c>, <c>MapFallbackToFile</c>, <c>MapOpenApi</c>, <c>MapIdentityApi</c>.
    /// </summary>
    internal static bool IsApplicationEndpoint(Endpoint endpoint)
    {
        var metadata = endpoint.Metadata;
        if (metadata.GetMetadata<ActionDescriptor>() is not null || metadata.GetMetadata<ComponentTypeMetadata>() is not null)
        {
            return true;
        }

        var handler = metadata.GetMetadata<MethodInfo>() ?? endpoint.RequestDelegate?.Method;
        return handler is not null && !IsAspNetCore(handler.Module.Assembly);
    }

    private static bool IsAspNetCore(Assembly assembly)
    {
        // FullName is cached by the runtime: no allocation per request.
        var name = assembly.FullName;
        return name is not null
            && name.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal)
            && name.Length > 20
            && name[20] is '.' or ',';
    }
}
