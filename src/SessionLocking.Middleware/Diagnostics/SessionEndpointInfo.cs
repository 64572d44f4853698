using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;

namespace SessionLocking.Diagnostics;

/// <summary>
/// What a request's endpoint is called where others see it, never anything of the request itself (no path, no query):
/// <see cref="Route"/>, the route pattern, tags the lock histograms (OpenTelemetry's <c>http.route</c>, bounded
/// cardinality); <see cref="Name"/> names the lock's holder to those who wait for it (logs, 503/429 answers,
/// <c>Server-Timing</c>), bounded to <see cref="SessionStoreResult.MaxHolderEndpointLength"/> characters.
/// </summary>
/// <param name="Route">The endpoint's route pattern; null when it has none.</param>
/// <param name="Name">The route pattern, or the display name where the pattern says little (a conventional route shared by many actions, an endpoint without a pattern); null when neither is known.</param>
internal readonly record struct SessionEndpointInfo(string? Route, string? Name)
{
    public static SessionEndpointInfo Of(Endpoint? endpoint)
    {
        if (endpoint is null)
        {
            return default;
        }

        var route = (endpoint as RouteEndpoint)?.RoutePattern;
        var pattern = string.IsNullOrEmpty(route?.RawText) ? null : route.RawText;

        // A conventional route ("{controller=Home}/{action=Index}/{id?}") is shared by every action it reaches: the
        // action's display name says which one holds the lock.
        var name = pattern is not null && !IsConventional(route!) ? pattern : endpoint.DisplayName ?? pattern;
        return new SessionEndpointInfo(SessionStoreResult.BoundHolder(pattern), SessionStoreResult.BoundHolder(name));
    }

    /// <summary>A pattern that picks its controller or action from the URL: many endpoints share it.</summary>
    private static bool IsConventional(RoutePattern route)
    {
        foreach (var parameter in route.Parameters)
        {
            if (parameter.Name is "controller" or "action" or "area")
            {
                return true;
            }
        }

        return false;
    }
}
