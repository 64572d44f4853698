using System.Text;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SessionLocking.IntegrationTests.Infrastructure;

/// <summary>
/// The sample app on a real Kestrel server (WebApplicationFactory.UseKestrel, .NET 10) on a free port of
/// 127.0.0.1, with an <see cref="HttpClient"/> over real sockets that handles cookies itself (so tests see every
/// Set-Cookie header and can send any Cookie header, valid or not).
/// </summary>
public sealed class SampleApp : IDisposable
{
    private readonly WebApplicationFactory<Program> _root;
    private readonly WebApplicationFactory<Program> _factory;
    private readonly Lazy<(Uri Address, HttpClient Client)> _started;

    /// <summary>The sample with its own configuration (appsettings.json), on Kestrel.</summary>
    public SampleApp()
        : this(configureServices: null)
    {
    }

    private SampleApp(Action<IServiceCollection>? configureServices, string? settingsJson = null, IReadOnlyDictionary<string, string>? hostSettings = null)
    {
        _root = new WebApplicationFactory<Program>();
        _factory = _root.WithWebHostBuilder(builder =>
        {
            builder.UseEnvironment("Development");
            foreach (var (key, value) in hostSettings ?? new Dictionary<string, string>())
            {
                builder.UseSetting(key, value); // Seen by the sample's Program before it builds the app (unlike the JSON below).
            }

            if (settingsJson is not null)
            {
                // After the sample's own appsettings*.json, so these settings win.
                builder.ConfigureAppConfiguration(config => config.AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(settingsJson))));
            }

            builder.ConfigureLogging(logging => logging.SetMinimumLevel(LogLevel.Warning).AddProvider(Logs));
            if (configureServices is not null)
            {
                builder.ConfigureServices(configureServices);
            }
        });
        _factory.UseKestrel(options => options.Listen(System.Net.IPAddress.Loopback, 0));
        _started = new Lazy<(Uri, HttpClient)>(Start);
    }

    /// <summary>The sample with changed options, e.g. a higher queue limit.</summary>
    public static SampleApp With(Action<LockedSessionOptions> configure) =>
        new(services => services.Configure(configure));

    /// <summary>The sample with more configuration, as an appsettings.json document that wins over the sample's own.</summary>
    public static SampleApp WithSettings(string json) => new(configureServices: null, json);

    /// <summary>
    /// The sample with settings its Program reads before it builds the app, such as <c>SessionState:Mode</c> (the
    /// sample sets up Redis only in Redis mode).
    /// </summary>
    public static SampleApp WithHostSettings(IReadOnlyDictionary<string, string> settings) => new(configureServices: null, settingsJson: null, settings);

    /// <summary>The sample with changed services.</summary>
    public static SampleApp WithServices(Action<IServiceCollection> configureServices) => new(configureServices);

    /// <summary>The app's warnings and errors so far.</summary>
    public LogSink Logs { get; } = new();

    /// <summary>The errors (and worse) logged after entry <paramref name="since"/> of <see cref="Logs"/>.</summary>
    public IReadOnlyList<LogEntry> ErrorsSince(int since) =>
        Logs.Entries.Skip(since).Where(e => e.Level >= LogLevel.Error).ToList();

    /// <summary>The app's services (starts the app).</summary>
    public IServiceProvider Services
    {
        get
        {
            _ = _started.Value;
            return _factory.Services;
        }
    }

    /// <summary>Where Kestrel listens, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address => _started.Value.Address;

    /// <summary>One client (one connection pool) for every browser of this app; cookies are per <see cref="Browser"/>.</summary>
    public HttpClient Client => _started.Value.Client;

    /// <summary>A new browser: its own cookie jar, no cookies yet.</summary>
    public Browser NewBrowser() => new(Client);

    public void Dispose()
    {
        if (_started.IsValueCreated)
        {
            _started.Value.Client.Dispose();
        }

        _root.Dispose(); // disposes _factory, made from it
    }

    private (Uri, HttpClient) Start()
    {
        _factory.StartServer();
        var addresses = _factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        var address = new Uri(addresses.First().TrimEnd('/') + "/");
        var handler = new SocketsHttpHandler
        {
            UseCookies = false,
            AllowAutoRedirect = false,
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        };
        var client = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        return (address, client);
    }
}
