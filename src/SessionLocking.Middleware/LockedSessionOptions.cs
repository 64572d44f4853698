using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace SessionLocking;

/// <summary>
/// Options of the locked session. Bound from the <c>SessionState</c> configuration section, then from the
/// delegate given to <c>AddLockedSession</c>. Defaults are the classic ones (<see cref="LockedSessionDefaults"/>).
/// </summary>
public sealed class LockedSessionOptions
{
    private readonly Dictionary<Type, string> _allowedTypes = new();

    /// <summary>Idle time after which a session expires, sliding on every access (classic <c>timeout</c>, 20 minutes).</summary>
    public TimeSpan Timeout { get; set; } = LockedSessionDefaults.Timeout;

    /// <summary>
    /// The session cookie: name <c>ASP.NET_SessionId</c>, path <c>/</c>, HttpOnly, SameSite Lax, no expiry,
    /// Secure when the request is HTTPS, essential (sent without consent, as classic did).
    /// </summary>
    public CookieBuilder Cookie { get; set; } = new()
    {
        Name = LockedSessionDefaults.CookieName,
        Path = LockedSessionDefaults.CookiePath,
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        SecurePolicy = CookieSecurePolicy.SameAsRequest,
        IsEssential = true,
    };

    /// <summary>
    /// How often a waiting request asks the store again (classic 500 ms). With release notifications on,
    /// waiters wake at once and this is only the safety net.
    /// </summary>
    public TimeSpan PollInterval { get; set; } = LockedSessionDefaults.PollInterval;

    /// <summary>
    /// Classic <c>httpRuntime executionTimeout</c> (110 s): when a holder's lock is this old, a waiter
    /// force-releases it; it is also the lock's time to live in the store.
    /// </summary>
    public TimeSpan ExecutionTimeout { get; set; } = LockedSessionDefaults.ExecutionTimeout;

    /// <summary>
    /// How long one request may wait for a session lock before it fails with 503. Null (the default) means
    /// <see cref="ExecutionTimeout"/>, as in classic, where the waiting request's own execution timeout applied.
    /// </summary>
    public TimeSpan? LockWaitTimeout { get; set; }

    /// <summary>
    /// Classic <c>aspnet:RequestQueueLimitPerSession</c> (50): how many requests of one session may wait on
    /// this server; the next one fails at once with 429.
    /// </summary>
    public int RequestQueueLimitPerSession { get; set; } = LockedSessionDefaults.RequestQueueLimitPerSession;

    /// <summary>
    /// The behaviour of the application's endpoints that say nothing (MVC actions, Razor Pages, minimal API handlers;
    /// classic MVC controllers: <see cref="SessionStateBehavior.Required"/>). Endpoints ASP.NET Core maps itself
    /// (static assets, health checks) get no session unless marked, as the classic static-file handler had none.
    /// </summary>
    public SessionStateBehavior DefaultBehavior { get; set; } = SessionStateBehavior.Required;

    /// <summary>
    /// When true (the default), a well-formed session id the store does not know is replaced by a fresh
    /// one (against session fixation). False restores classic reuse of the client's id, for side-by-side migrations.
    /// </summary>
    public bool RegenerateUnknownSessionIds { get; set; } = true;

    /// <summary>
    /// Classic keep-alive: a request that uses no session (a <see cref="SessionStateBehavior.Disabled"/>
    /// endpoint, or no endpoint) but carries a session id slides that session's expiry with one cheap store call.
    /// Framework endpoints that nothing marked (static assets, health checks) make no store call.
    /// </summary>
    public bool KeepAliveWithoutSession { get; set; } = true;

    /// <summary>
    /// Failing fast while the store is down: once enough store calls failed, requests that need the session answer
    /// 503 at once instead of each waiting out the store's timeout, until a probe finds the store back.
    /// </summary>
    public StoreCircuitBreakerOptions StoreCircuitBreaker { get; set; } = new();

    /// <summary>
    /// Whether waiters wake as soon as a lock is released (true, the default) or only poll every
    /// <see cref="PollInterval"/> (false: pure classic behaviour, for comparison).
    /// </summary>
    public bool UseReleaseNotifications { get; set; } = true;

    /// <summary>
    /// What happens when a <see cref="SessionStateBehavior.ReadOnly"/> request changes the session: false
    /// (the default, as classic) keeps the change for the rest of the request, does not save it and logs a
    /// warning; true throws <see cref="InvalidOperationException"/> at the change.
    /// </summary>
    public bool ThrowOnReadOnlyWrite { get; set; }

    /// <summary>
    /// When true, the cookie carries the session id protected with ASP.NET Core Data Protection (encrypted and
    /// signed) instead of the id itself; a cookie that does not unprotect is treated as no id. Off by default,
    /// because classic applications running side by side must be able to read the plain id.
    /// </summary>
    public bool ProtectCookieValue { get; set; }

    /// <summary>Largest serialized value allowed for one item (1 MiB); larger values fail with an error naming the key.</summary>
    public int MaxValueBytes { get; set; } = LockedSessionDefaults.MaxValueBytes;

    /// <summary>Largest serialized session allowed (4 MiB); over it the request fails and nothing is written.</summary>
    public int MaxSessionBytes { get; set; } = LockedSessionDefaults.MaxSessionBytes;

    /// <summary>
    /// Largest response held in memory until the session is saved (4 MiB). A Required request over HTTP/1.0 (whose
    /// response ends when the connection closes, so a failed write-back could not be told from success), a request
    /// that called <see cref="IHttpSessionState.RegenerateId"/> (whose new cookie may only reach the client once the
    /// session moved), and a response that ends at its head (HEAD, 204, 304, <c>Content-Length: 0</c>) started before
    /// the save, are held. Past the limit the write fails, the request fails with 500 and nothing is saved.
    /// </summary>
    public int MaxHeldResponseBytes { get; set; } = LockedSessionDefaults.MaxHeldResponseBytes;

    /// <summary>
    /// Largest amount of memory all held responses of this server may take together (256 MiB), so that many clients
    /// that talk HTTP/1.0 and do not read cannot pin more. A write that would pass it fails, the request is answered
    /// with 503 and nothing of it is saved (the client can retry; no change is ever saved for a response that could not
    /// be delivered whole). A held response gives its memory back as the client reads it.
    /// </summary>
    public long MaxTotalHeldResponseBytes { get; set; } = LockedSessionDefaults.MaxTotalHeldResponseBytes;

    /// <summary>
    /// Whether requests with session state (<see cref="SessionStateBehavior.Required"/>, <see cref="SessionStateBehavior.ReadOnly"/>)
    /// get a <c>Server-Timing</c> header the browser's developer tools show: <c>session-wait</c> (waiting for the
    /// lock, or for the writer to release it), <c>session-load</c> (the store call that loaded the session) and, when
    /// the save ended before the response started, <c>session-save</c>. Null (the default): on in Development only
    /// (<c>IHostEnvironment.IsDevelopment()</c>), since the figures tell a visitor how busy the server is.
    /// </summary>
    public bool? ServerTiming { get; set; }

    /// <summary>The System.Text.Json options used for session values.</summary>
    public JsonSerializerOptions JsonSerializerOptions { get; set; } = new(JsonSerializerDefaults.General);

    /// <summary>Callbacks, such as the classic <c>Session_Start</c>.</summary>
    public LockedSessionEvents Events { get; set; } = new();

    /// <summary>
    /// How often this server asks the store for sessions that timed out, for <see cref="LockedSessionEvents.OnSessionEnd"/>
    /// (5 s): a timeout is raised within this much of the session's expiry when a handler slot is free. Abandons are
    /// raised at once by the server that abandoned, and by the next sweep of any server otherwise.
    /// </summary>
    public TimeSpan SessionEndSweepInterval { get; set; } = LockedSessionDefaults.SessionEndSweepInterval;

    /// <summary>How many <see cref="LockedSessionEvents.OnSessionEnd"/> handlers may run at once on this server (4); more ends wait in the store.</summary>
    public int MaxConcurrentSessionEndHandlers { get; set; } = LockedSessionDefaults.MaxConcurrentSessionEndHandlers;

    /// <summary>
    /// How long one <see cref="LockedSessionEvents.OnSessionEnd"/> handler may run (30 s). A handler still running then is
    /// logged and counted as hung, its slot is given to the next end, and its end is not raised again. The claim of an end
    /// is this server's alone for this time plus <see cref="SessionEndSweepInterval"/>: when the server dies first, another
    /// raises the end after that (at least once, never two at the same time).
    /// </summary>
    public TimeSpan SessionEndHandlerTimeout { get; set; } = LockedSessionDefaults.SessionEndHandlerTimeout;

    /// <summary>The types, besides the built-in primitives, that the object API may read back, with their stored alias.</summary>
    public IReadOnlyDictionary<Type, string> AllowedTypes => _allowedTypes;

#pragma warning disable RS0026 // Both overloads take an optional alias, as they did from the start; the generic one is the one applications use.
    /// <summary>
    /// Allows <typeparamref name="T"/> to be stored and read through the object API
    /// (<c>Session["cart"] = cart; var c = (Cart)Session["cart"];</c>). Stored data names the alias, never a type to load.
    /// </summary>
    /// <typeparam name="T">The type to allow.</typeparam>
    /// <param name="alias">
    /// The name stored with values of the type; by default its full name, with generic arguments named by their full
    /// names and no assembly (<c>System.Collections.Generic.List`1[[Shop.Models.Cart]]</c>), so that it does not change
    /// when an assembly version does.
    /// </param>
    public LockedSessionOptions AllowType<T>(string? alias = null) => AllowType(typeof(T), alias);

    /// <summary>Allows <paramref name="type"/> to be stored and read through the object API.</summary>
    /// <param name="type">The type to allow.</param>
    /// <param name="alias">The name stored with values of the type; by default as for <see cref="AllowType{T}(string?)"/>.</param>
    public LockedSessionOptions AllowType(Type type, string? alias = null)
    {
        ArgumentNullException.ThrowIfNull(type);
        alias ??= Serialization.TypeAliases.Default(type);
        if (alias.Length == 0 || alias.Length > 1024)
        {
            throw new ArgumentException("A type alias must have 1 to 1024 characters.", nameof(alias));
        }

        _allowedTypes[type] = alias;
        return this;
    }
#pragma warning restore RS0026

    /// <summary>
    /// Which store to use when the application registers none in code (classic <c>sessionState mode</c>): <c>InProc</c>
    /// (the default, sessions in this process's memory) or the name of a mode a store package registered, such as
    /// <c>Redis</c> (<c>AddRedisStoreMode()</c> of SessionLocking.Redis, configured from <c>SessionState:Redis</c>).
    /// Bound from <c>SessionState:Mode</c>, so an application switches store with configuration only
    /// (<c>SessionState__Mode=Redis</c>, <c>SessionState__Redis__Configuration=host:6379</c>). A store registered in code,
    /// such as <c>AddRedisStore(...)</c>, wins over it.
    /// </summary>
    public string Mode { get; set; } = "InProc";

    /// <summary>
    /// Whether a <see cref="SessionStateBehavior.Required"/> request keeps the session's exclusive lock through a stream:
    /// false (the default) saves the session and releases its lock when a WebSocket (or any connection upgrade) is
    /// accepted, and when a <c>text/event-stream</c> response's first bytes are written or flushed (just before they
    /// leave), so a connection held open for minutes never makes the session's other requests wait. The changes saved
    /// are those a classic request saved at its end; after the release the session refuses changes (as after
    /// <c>HttpContext.ReleaseSessionAsync()</c>). True holds the lock until the request ends, as classic did for a
    /// response it streamed.
    /// </summary>
    public bool HoldLockThroughStreams { get; set; }
}
