using MvcApp.Models;
using MvcApp.Services;
using System.Net;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Caching.Distributed;
using SessionLocking;
using StackExchange.Redis;

var builder = WebApplication.CreateBuilder(args);

builder.Services.AddControllersWithViews();

// Classic ASP.NET session state with per-request locks. Options bind from the "SessionState" section of
// appsettings.json first (the store is chosen there too: in memory unless configured otherwise), then this
// delegate runs. The object API (Session["cart"] = cart) only reads back types allowed here.
// No options.Events.OnSessionStart (classic Session_Start): with a handler, every new session is stored and gets a
// cookie on its first Required request, and this sample shows that a session nothing wrote sends no cookie.
// docs/migration.md shows how to bring a Session_Start handler over.
var session = builder.Services.AddLockedSession(options =>
{
    options.AllowType<Cart>();
    options.AllowType<CheckoutState>();
});

// Redis mode (SessionState:Mode=Redis, SessionState:Redis:Configuration=host:6379): one multiplexer for the whole
// application, registered once in DI. The session store (AddRedisStore() takes the one in DI and never disposes it),
// the distributed cache and the Data Protection key ring all use it. The container disposes it at shutdown.
if (string.Equals(builder.Configuration["SessionState:Mode"], "Redis", StringComparison.OrdinalIgnoreCase))
{
    var redis = ConfigurationOptions.Parse(builder.Configuration["SessionState:Redis:Configuration"]
        ?? throw new InvalidOperationException("SessionState:Mode is Redis: set SessionState:Redis:Configuration, e.g. SessionState__Redis__Configuration=localhost:6379."));
    redis.AbortOnConnectFail = false; // Start even while Redis is down; requests that need it answer 503 until it is back.
    redis.ClientName ??= "MvcApp";
    // Every Redis call here is awaited: replies read on the .NET thread pool save a thread hop each (the store does
    // the same for a connection it makes; docs/configuration.md).
    redis.SocketManager ??= SocketManager.ThreadPool;
    var multiplexer = await ConnectionMultiplexer.ConnectAsync(redis);
    builder.Services.AddSingleton<IConnectionMultiplexer>(_ => multiplexer);
    session.AddRedisStore();
    builder.Services.AddStackExchangeRedisCache(options =>
    {
        options.InstanceName = "MvcApp:";
        options.ConnectionMultiplexerFactory = () => Task.FromResult<IConnectionMultiplexer>(multiplexer);
    });
    builder.Services.AddDataProtection()
        .SetApplicationName("MvcApp")
        .PersistKeysToStackExchangeRedis(multiplexer, "MvcApp:DataProtection-Keys");
}
else if (string.Equals(builder.Configuration["SessionState:Mode"], "RedisSessionStateProvider", StringComparison.OrdinalIgnoreCase))
{
    // Side by side with a legacy ASP.NET application on Microsoft.Web.RedisSessionStateProvider: its keys, its item
    // format and its locks, shared both ways (docs/migration.md §11). Primitive items (the counter) are shared, and so is
    // the cart: the legacy application stores its own Shop.Models.Cart with BinaryFormatter, read and written here as
    // MvcApp.Models.Cart through MapLegacyType (docs/legacy-redis.md). Its assembly is "Shop" unless
    // SessionState:RedisSessionStateProvider:LegacyAssembly says otherwise.
    var legacy = builder.Configuration.GetSection("SessionState:RedisSessionStateProvider");
    session.AddRedisSessionStateProviderStore(o =>
    {
        o.Configuration = legacy["Configuration"]
            ?? throw new InvalidOperationException("SessionState:Mode is RedisSessionStateProvider: set SessionState:RedisSessionStateProvider:Configuration to the legacy application's Redis, e.g. localhost:6379.");
        o.ApplicationName = legacy["ApplicationName"] ?? "MvcApp";           // the legacy web.config's applicationName
        o.Format = Enum.Parse<RedisSessionStateProviderFormat>(legacy["Format"] ?? "V5", ignoreCase: true);
        if (legacy["LockTimeZone"] is { Length: > 0 } zone)
        {
            o.LockTimeZone = TimeZoneInfo.FindSystemTimeZoneById(zone);    // the legacy servers' local time zone
        }

        var assembly = legacy["LegacyAssembly"] ?? "Shop";
        o.MapLegacyType<Cart>($"Shop.Models.Cart, {assembly}");             // its auto-property Lines
        o.MapLegacyType<CartLine>($"Shop.Models.CartLine, {assembly}");     // its auto-properties Product and Quantity
    });
    builder.Services.AddDistributedMemoryCache();
}
else
{
    builder.Services.AddDistributedMemoryCache();
}

// On Redis the sample runs as a farm, behind a load balancer or reverse proxy that usually terminates TLS. The session
// cookie is Secure when the request is HTTPS (CookieSecurePolicy.SameAsRequest), and behind such a proxy the request
// this server sees is plain HTTP: without the forwarded scheme applied, the cookie would go out without Secure.
// Only proxies named here are believed (loopback by default; add the load balancer's addresses under
// ForwardedHeaders:KnownProxies), so a client cannot claim HTTPS or another address itself.
var farm = builder.Configuration["SessionState:Mode"] is { Length: > 0 } mode
    && !string.Equals(mode, "InProc", StringComparison.OrdinalIgnoreCase);
if (farm)
{
    builder.Services.Configure<ForwardedHeadersOptions>(options =>
    {
        options.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
        foreach (var proxy in builder.Configuration.GetSection("ForwardedHeaders:KnownProxies").Get<string[]>() ?? [])
        {
            options.KnownProxies.Add(IPAddress.Parse(proxy));
        }
    });
}

builder.Services.AddSingleton<AppClock>();
builder.Services.AddSingleton<RunningRequests>();
builder.Services.AddSingleton<UsersOnline>();

// "Users online" (classic Global.asax: Application["online"]++ in Session_Start, -- in Session_End). Opt-in with
// Sample:UsersOnline=true, because a Session_Start handler stores every new session on its first Required request,
// cookie included, and the sample's other pages show that a session nothing wrote is not stored.
if (builder.Configuration.GetValue<bool>("Sample:UsersOnline"))
{
    builder.Services.AddOptions<LockedSessionOptions>().Configure<UsersOnline>((options, online) =>
    {
        options.Events.OnSessionStart = _ => online.StartedAsync();
        options.Events.OnSessionEnd = _ => online.EndedAsync();
    });
}

var app = builder.Build();
app.Services.GetRequiredService<AppClock>(); // starts the clock the slow actions report in

if (farm)
{
    app.UseForwardedHeaders(); // first: everything after it, the session cookie included, sees the client's scheme
}

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/error");
}

app.UseRouting();
app.UseLockedSession();

// As `dotnet new mvc` generates it: static files are endpoints (fingerprinted, compressed, cached). Endpoints the
// framework maps get no session unless marked, so CSS and JS never queue on a session's lock (classic: the
// static-file handler had no session either).
app.MapStaticAssets();
app.MapControllers().WithStaticAssets();

// The "users online" count (0 unless Sample:UsersOnline is on); reading it needs no session.
app.MapGet("/api/users-online", async (UsersOnline online) => Results.Ok(await online.CountAsync()))
    .WithSessionState(SessionStateBehavior.Disabled);

// A minimal API endpoint declares its behaviour with WithSessionState instead of an attribute.
app.MapGet("/api/cart/count", (HttpContext context) =>
    {
        var cart = context.GetSessionState()[CartKeys.Cart] as Cart;
        return Results.Json(new { count = cart?.ItemCount ?? 0 });
    })
    .WithSessionState(SessionStateBehavior.ReadOnly);

// The application's own cache (IDistributedCache: in memory, or Redis on the shared multiplexer); no session.
app.MapGet("/api/visits", async (IDistributedCache cache, CancellationToken cancellationToken) =>
    {
        var count = int.TryParse(await cache.GetStringAsync("visits", cancellationToken), out var n) ? n + 1 : 1;
        await cache.SetStringAsync("visits", count.ToString(System.Globalization.CultureInfo.InvariantCulture), cancellationToken);
        return Results.Json(new { visits = count });
    })
    .WithSessionState(SessionStateBehavior.Disabled);

app.Run();

/// <summary>Entry point, visible to integration tests.</summary>
public partial class Program;
