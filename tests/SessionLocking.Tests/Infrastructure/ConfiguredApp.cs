using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>
/// An application as one that lets configuration choose its store starts: real Kestrel on a free loopback port, the
/// given configuration, <c>AddLockedSession()</c> with the store set-up the test gives, and <c>UseLockedSession()</c>,
/// which builds the store configuration chose (a bad configuration fails there, and the app is disposed).
/// </summary>
internal static class ConfiguredApp
{
    public static async Task<WebApplication> StartAsync(
        Dictionary<string, string?> configuration,
        Action<ILockedSessionBuilder>? store = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(configuration);
        var session = builder.Services.AddLockedSession();
        store?.Invoke(session);
        services?.Invoke(builder.Services);
        var app = builder.Build();
        try
        {
            app.UseLockedSession();
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }

        return app;
    }
}
