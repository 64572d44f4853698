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

        return app.UseMiddleware<LockedSessionMiddleware>();
    }
}
