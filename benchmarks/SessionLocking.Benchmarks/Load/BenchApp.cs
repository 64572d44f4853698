using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SessionLocking.Benchmarks.Load;

internal enum SessionKind
{
    /// <summary>No session middleware at all: the endpoints do the same work minus the session.</summary>
    None,

    /// <summary>ASP.NET Core's own session (<c>AddSession</c> over <c>AddDistributedMemoryCache</c>), which never locks.</summary>
    CoreSession,

    /// <summary>SessionLocking.</summary>
    Locked,

    /// <summary>ASP.NET Core's own session on Redis (<c>AddSession</c> over <c>AddStackExchangeRedisCache</c>): no lock.</summary>
    CoreSessionRedis,

    /// <summary>The floor: one Redis hash per session, plain commands, no lock, no script (<see cref="PlainRedisEndpoints"/>).</summary>
    PlainRedis,
}

/// <summary>One application set-up measured by a scenario.</summary>
/// <param name="Name">How the tables name it.</param>
/// <param name="Kind">Which session, if any.</param>
/// <param name="Redis">Redis "host:port" for the Redis store (or the peer's Redis cache); null for the in-memory store.</param>
/// <param name="Notifications">LockedSessionOptions.UseReleaseNotifications (false = pure classic 500 ms polling).</param>
internal sealed record AppVariant(string Name, SessionKind Kind, string? Redis = null, bool Notifications = true)
{
    public Action<LockedSessionOptions>? Configure { get; init; }

    public bool Http2Only { get; init; }
}

/// <summary>
/// A real Kestrel server on a free loopback port, in this process, with the benchmark endpoints. Every variant
/// maps the same paths; only the session differs.
/// </summary>
internal sealed class BenchApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private BenchApp(WebApplication app, Uri address, AppVariant variant)
    {
        _app = app;
        Address = address;
        Variant = variant;
    }

    public Uri Address { get; }

    public AppVariant Variant { get; }

    public IServiceProvider Services => _app.Services;

    public HotRecorder Recorder => _app.Services.GetRequiredService<HotRecorder>();

    public Gate Gate => _app.Services.GetRequiredService<Gate>();

    public static async Task<BenchApp> StartAsync(AppVariant variant)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(o =>
        {
            o.AddServerHeader = false;
            o.Limits.MaxConcurrentConnections = null;
            o.Limits.Http2.MaxStreamsPerConnection = 20_000;
            o.Limits.MinRequestBodyDataRate = null;
            o.Limits.KeepAliveTimeout = TimeSpan.FromMinutes(10);
            o.Limits.RequestHeadersTimeout = TimeSpan.FromMinutes(10);
            if (variant.Http2Only)
            {
                o.ConfigureEndpointDefaults(l => l.Protocols = HttpProtocols.Http2);
            }
        });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton<HotRecorder>();
        builder.Services.AddSingleton<Gate>();

        switch (variant.Kind)
        {
            case SessionKind.CoreSession:
                builder.Services.AddDistributedMemoryCache();
                builder.Services.AddSession(o => o.IdleTimeout = TimeSpan.FromMinutes(20));
                break;
            case SessionKind.CoreSessionRedis:
                builder.Services.AddStackExchangeRedisCache(o =>
                {
                    o.Configuration = variant.Redis ?? throw new InvalidOperationException("The Redis peer needs --redis.");
                    o.InstanceName = "peer:";
                });
                builder.Services.AddSession(o => o.IdleTimeout = TimeSpan.FromMinutes(20));
                break;
            case SessionKind.PlainRedis:
                builder.Services.AddPlainRedis(variant.Redis ?? throw new InvalidOperationException("The plain-Redis floor needs --redis."));
                break;
            case SessionKind.Locked:
                var session = builder.Services.AddLockedSession(o =>
                {
                    o.UseReleaseNotifications = variant.Notifications;
                    variant.Configure?.Invoke(o);
                });
                if (variant.Redis is { } redis)
                {
                    session.AddRedisStore(redis);
                }

                break;
        }

        var app = builder.Build();
        app.UseRouting();
        switch (variant.Kind)
        {
            case SessionKind.CoreSession or SessionKind.CoreSessionRedis:
                app.UseSession();
                break;
            case SessionKind.Locked:
                app.UseLockedSession();
                break;
        }

        Endpoints.Map(app, variant.Kind);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BenchApp(app, new Uri(address), variant);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

/// <summary>
/// Server-side timestamps of the hot-session endpoint: when each request's endpoint code started and ended,
/// on this process's monotonic clock (Stopwatch). Requests of one session never overlap under the exclusive
/// lock, so the next start minus the previous end is the hand-over time: write-back and release of the previous
/// request, waking the next waiter, its acquire-and-load store call, and the middleware up to the endpoint.
/// </summary>
internal sealed class HotRecorder
{
    private long[] _starts = new long[1 << 20];
    private long[] _ends = new long[1 << 20];
    private int _count;
    private long _total;
    private volatile bool _recording;

    public void Start()
    {
        _count = 0;
        _recording = true;
    }

    public void Stop() => _recording = false;

    /// <summary>Every request that reached the end of the endpoint, in every phase.</summary>
    public long Total => Interlocked.Read(ref _total);

    public int Record(long start, long end)
    {
        Interlocked.Increment(ref _total);
        if (!_recording)
        {
            return -1;
        }

        var i = Interlocked.Increment(ref _count) - 1;
        if (i < _starts.Length)
        {
            _starts[i] = start;
            _ends[i] = end;
        }

        return i;
    }

    /// <summary>(start, end) pairs in start order.</summary>
    public (long Start, long End)[] Snapshot()
    {
        var n = Math.Min(_count, _starts.Length);
        var pairs = new (long, long)[n];
        for (var i = 0; i < n; i++)
        {
            pairs[i] = (_starts[i], _ends[i]);
        }

        Array.Sort(pairs, (a, b) => a.Item1.CompareTo(b.Item1));
        return pairs;
    }
}

/// <summary>Holds requests until opened (for the waiting-cost scenario).</summary>
internal sealed class Gate
{
    private TaskCompletionSource _tcs = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _entered;

    public int Entered => Volatile.Read(ref _entered);

    public Task WaitAsync()
    {
        Interlocked.Increment(ref _entered);
        return _tcs.Task;
    }

    public void Open() => _tcs.TrySetResult();

    public void Reset()
    {
        _tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _entered = 0;
    }
}

internal static class Endpoints
{
    private static readonly byte[] Ok = "ok"u8.ToArray();

    public static void Map(WebApplication app, SessionKind kind)
    {
        if (kind == SessionKind.PlainRedis)
        {
            PlainRedisEndpoints.Map(app);
            return;
        }

        var hasSession = kind != SessionKind.None;
        if (kind is SessionKind.CoreSession or SessionKind.CoreSessionRedis)
        {
            MapCoreHot(app);
        }
        else
        {
            MapLockedHot(app);
        }

        MapRest(app, hasSession);
    }

    /// <summary>
    /// Scenario 1 through ASP.NET Core's <c>ISession</c>: the same work, but nothing keeps two requests of the session
    /// apart (its middleware stores the session after the endpoint, last writer wins).
    /// </summary>
    private static void MapCoreHot(WebApplication app)
    {
        app.MapPost("/hot", async (HttpContext context, HotRecorder recorder) =>
        {
            var start = Stopwatch.GetTimestamp();
            await context.Session.LoadAsync(context.RequestAborted);
            var n = (context.Session.GetInt32("n") ?? 0) + 1;
            context.Session.SetInt32("n", n);
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            recorder.Record(start, Stopwatch.GetTimestamp());
        });

        app.MapGet("/hot/count", async (HttpContext context) =>
        {
            await context.Session.LoadAsync(context.RequestAborted);
            return Results.Text((context.Session.GetInt32("n") ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
    }

    private static void MapLockedHot(WebApplication app)
    {
        // ---- scenario 1: hot session, Required, nearly no work: read an int, write it back + 1 ----
        app.MapPost("/hot", async (HttpContext context, HotRecorder recorder) =>
        {
            var start = Stopwatch.GetTimestamp();
            var session = context.GetSessionState();
            var n = (int)(session["n"] ?? 0) + 1;
            session["n"] = n;
            context.Response.ContentType = "text/plain";
            await context.Response.WriteAsync(n.ToString(System.Globalization.CultureInfo.InvariantCulture));
            recorder.Record(start, Stopwatch.GetTimestamp());
        });

        app.MapGet("/hot/count", (HttpContext context) => Results.Text(((int)(context.GetSessionState()["n"] ?? 0)).ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .WithSessionState(SessionStateBehavior.ReadOnly);
    }

    private static void MapRest(WebApplication app, bool hasSession)
    {
        // ---- scenario 2: many sessions, the same ISession code for ASP.NET Core's session and the locked one ----
        app.MapPost("/init", async (HttpContext context) =>
        {
            if (hasSession)
            {
                await context.Session.LoadAsync(context.RequestAborted);
                context.Session.SetString("user", "user-" + Guid.NewGuid().ToString("N"));
                context.Session.SetInt32("n", 0);
            }

            await context.Response.Body.WriteAsync(Ok);
        });

        app.MapPost("/write", async (HttpContext context) =>
        {
            if (hasSession)
            {
                await context.Session.LoadAsync(context.RequestAborted);
                var user = context.Session.GetString("user");
                var n = context.Session.GetInt32("n") ?? 0;
                context.Session.SetInt32("n", n + 1);
                if (user is null)
                {
                    context.Response.StatusCode = 500;
                }
            }

            await context.Response.Body.WriteAsync(Ok);
        });

        app.MapGet("/read", async (HttpContext context) =>
        {
            if (hasSession)
            {
                await context.Session.LoadAsync(context.RequestAborted);
                var user = context.Session.GetString("user");
                _ = context.Session.GetInt32("n");
                if (user is null)
                {
                    context.Response.StatusCode = 500;
                }
            }

            await context.Response.Body.WriteAsync(Ok);
        }).WithSessionState(SessionStateBehavior.ReadOnly);

        // ---- scenario 3: round trips and bytes per request kind ----
        app.MapPost("/rt/set-one", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            session["n"] = (int)(session["n"] ?? 0) + 1;
            return Results.Text("ok");
        });

        app.MapGet("/rt/required-unchanged", (HttpContext context) => Results.Text(context.GetSessionState().Count.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        app.MapGet("/rt/readonly", (HttpContext context) => Results.Text(context.GetSessionState().Count.ToString(System.Globalization.CultureInfo.InvariantCulture)))
            .WithSessionState(SessionStateBehavior.ReadOnly);

        // Fills the session with count values of size bytes each (through ISession: raw bytes).
        app.MapPost("/rt/fill", (HttpContext context, int count, int size) =>
        {
            for (var i = 0; i < count; i++)
            {
                var value = new byte[size];
                Random.Shared.NextBytes(value);
                context.Session.Set("blob" + i, value);
            }

            context.GetSessionState()["n"] = 0;
            return Results.Text("ok");
        });

        // Rewrites every blob (same sizes, new content): what a provider that writes the whole session sends.
        app.MapPost("/rt/rewrite-all", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            foreach (var key in session.Keys.ToArray())
            {
                if (context.Session.TryGetValue(key, out var old) && key.StartsWith("blob", StringComparison.Ordinal))
                {
                    var value = new byte[old.Length];
                    Random.Shared.NextBytes(value);
                    context.Session.Set(key, value);
                }
            }

            session["n"] = (int)(session["n"] ?? 0) + 1;
            return Results.Text("ok");
        });

        // ---- scenario 4: waiting cost ----
        app.MapPost("/hold", async (HttpContext context, Gate gate) =>
        {
            context.GetSessionState()["held"] = true;
            await gate.WaitAsync();
            return Results.Text("ok");
        });

        app.MapPost("/wait", (HttpContext context) =>
        {
            var session = context.GetSessionState();
            session["n"] = (int)(session["n"] ?? 0) + 1;
            return Results.Text("ok");
        });

        // Baseline: a request that waits on the same gate with no session at all.
        app.MapPost("/wait-gate", async (Gate gate) =>
        {
            await gate.WaitAsync();
            return Results.Text("ok");
        }).WithSessionState(SessionStateBehavior.Disabled);
    }
}
