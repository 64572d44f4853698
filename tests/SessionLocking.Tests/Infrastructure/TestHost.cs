using System.Diagnostics.Metrics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using SessionLocking.TestServer;

namespace SessionLocking.Tests.Infrastructure;

/// <summary>A real Kestrel server on a free loopback port running the test endpoints on the locked session.</summary>
public sealed class TestHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestHost(WebApplication app, Uri address)
    {
        _app = app;
        Address = address;
    }

    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public WriterTracker Tracker => _app.Services.GetRequiredService<WriterTracker>();

    public HoldGate Gate => _app.Services.GetRequiredService<HoldGate>();

    /// <param name="configureOptions">Changes to the session options.</param>
    /// <param name="configureStore">Registers the store (in-memory when null).</param>
    /// <param name="configureServices">More services, e.g. a TimeProvider.</param>
    /// <param name="configureApp">Extra endpoints or middleware, mapped after the test endpoints.</param>
    public static async Task<TestHost> StartAsync(
        Action<LockedSessionOptions>? configureOptions = null,
        Action<ILockedSessionBuilder>? configureStore = null,
        Action<IServiceCollection>? configureServices = null,
        Action<WebApplication>? configureApp = null,
        Action<WebApplication>? beforeSession = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(TestLog.Provider);
        var sessionBuilder = builder.Services.AddLockedSession(configureOptions);
        configureStore?.Invoke(sessionBuilder);
        configureServices?.Invoke(builder.Services);
        builder.Services.TryAddSingleton<WriterTracker>();
        builder.Services.TryAddSingleton<HoldGate>();
        var app = builder.Build();
        app.UseRouting();
        beforeSession?.Invoke(app);
        app.UseLockedSession();
        app.MapTestEndpoints();
        configureApp?.Invoke(app);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new TestHost(app, new Uri(address));
    }

    /// <summary>
    /// Starts a Required request (<c>/hold</c>) that takes the client's session lock and keeps it until the test
    /// calls <c>Gate.Open()</c>; returns once the request is inside its endpoint.
    /// </summary>
    public async Task<Task<HttpResponseMessage>> HoldLockAsync(SessionClient client, string value = "h")
    {
        Gate.Reset();
        var holder = client.PostAsync("/hold?value=" + value);
        await Gate.Entered.WaitAsync(TimeSpan.FromSeconds(30));
        return holder;
    }

    /// <summary>Adds up one counter of this host's SessionLocking meter (other hosts in the process are ignored).</summary>
    public MeterListener ListenToCounter(string instrumentName, Action<long> onMeasurement)
    {
        var factory = Services.GetRequiredService<IMeterFactory>();
        var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter.Scope, factory) && instrument.Name == instrumentName)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => onMeasurement(value));
        listener.Start();
        return listener;
    }

    public SessionClient CreateClient(TimeSpan? timeout = null) => new(Address, timeout);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
