using Microsoft.Extensions.DependencyInjection;
using SessionLocking;
using SessionLocking.Locking;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Adds the locked session middleware to the pipeline.</summary>
public static class LockedSessionApplicationBuilderExtensions
{
    /// <summary>
    /// Adds the locked session middleware. Call it after <c>UseRouting</c> (so the endpoint, and with it the
    /// session behaviour, is known) and before the endpoints run, typically after authentication and authorization.
    /// </summary>
    /// <param name="app">The application.</param>
    public static IApplicationBuilder UseLockedSession(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        if (app.ApplicationServices.GetService(typeof(SessionLockCoordinator)) is null)
        {
            throw new InvalidOperationException(
                "UseLockedSession() needs the locked session services: call builder.Services.AddLockedSession() when configuring services.");
        }

        // UseRouting records its route builder under this key. If it is not there yet, routing must not be
        // added after us: then no request would have an endpoint and every request would silently get no session.
        var routingBefore = app.Properties.ContainsKey(EndpointRouteBuilderKey);
        return app.Use(next =>
        {
            if (!routingBefore && app.Properties.ContainsKey(EndpointRouteBuilderKey))
            {
                throw new InvalidOperationException(
                    "UseLockedSession() was called before UseRouting(): the session behaviour comes from the endpoint, which is known only after routing. Call app.UseRouting() first, then app.UseLockedSession().");
            }

            var middleware = ActivatorUtilities.CreateInstance<LockedSessionMiddleware>(app.ApplicationServices, next);
            return middleware.InvokeAsync;
        });
    }

    private const string EndpointRouteBuilderKey = "__EndpointRouteBuilder";
}
