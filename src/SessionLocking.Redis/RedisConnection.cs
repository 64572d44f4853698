using System.Runtime.CompilerServices;
using System.Net;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The store's connection to Redis, made once, on first use (like Microsoft.Extensions.Caching.StackExchangeRedis):
/// from <see cref="ConfigurationOptions"/> or a configuration string (the store creates, owns and disposes that
/// multiplexer), from the application's factory, or an <see cref="IConnectionMultiplexer"/> the application
/// registered. A multiplexer the store did not create is never disposed here.
/// </summary>
/// <remarks>
/// Scripts registered with <see cref="PreloadScripts"/> are loaded (SCRIPT LOAD) on every primary before the first
/// call returns, and again on an endpoint whenever its connection is restored, so that EVALSHA finds them and the
/// first call after a Redis restart does not pay a NOSCRIPT answer and a second round trip.
/// </remarks>
internal sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly object _sync = new();
    private readonly Func<Task<IConnectionMultiplexer>> _connect;
    private readonly bool _owns;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _operationTimeout;
    private readonly ConfigurationOptions? _configuration;
    private string[] _scripts = [];
    private IConnectionMultiplexer? _multiplexer;
    private Task<IConnectionMultiplexer>? _connecting;
    private IDatabase? _database;
    private ISubscriber? _subscriber;
    private string? _channelPrefix;
    private bool _disposed;

    /// <summary>
    /// The connection <paramref name="options"/> describe: the application's factory
    /// (<see cref="RedisSessionStoreOptions.ConnectionMultiplexerFactory"/>), else a multiplexer the store creates from
    /// <see cref="RedisSessionStoreOptions.ConfigurationOptions"/> or <see cref="RedisSessionStoreOptions.Configuration"/>.
    /// </summary>
    public RedisConnection(RedisSessionStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _connectTimeout = options.ConnectTimeout;
        _operationTimeout = options.OperationTimeout;
        if (options.ConnectionMultiplexerFactory is { } factory)
        {
            _connect = factory;
            _owns = false;
            return;
        }

        var configuration = ClientConfiguration(options);
        _channelPrefix = (string?)configuration.ChannelPrefix ?? string.Empty;
        _configuration = configuration;
        _connect = async () => await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        _owns = true;
    }

    /// <summary>A multiplexer the application owns (registered in DI); it is never disposed here.</summary>
    public RedisConnection(IConnectionMultiplexer multiplexer, TimeSpan operationTimeout)
    {
        ArgumentNullException.ThrowIfNull(multiplexer);
        _connect = () => Task.FromResult(multiplexer);
        _owns = false;
        _operationTimeout = operationTimeout;
        _connectTimeout = operationTimeout;
    }

    /// <summary>
    /// The client options of a connection the store makes: a copy of <see cref="RedisSessionStoreOptions.ConfigurationOptions"/>
    /// or the parsed <see cref="RedisSessionStoreOptions.Configuration"/>, with the store's settings where it sets none.
    /// </summary>
    internal static ConfigurationOptions ClientConfiguration(RedisSessionStoreOptions options)
    {
        ConfigurationOptions configuration;
        if (options.ConfigurationOptions is { } given)
        {
            configuration = given.Clone();
        }
        else
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(options.Configuration, "options.Configuration");
            configuration = ConfigurationOptions.Parse(options.Configuration);
        }

        // The client serializes only what was set: a timeout the configuration gives wins over the store's option.
        var set = configuration.ToString();
        if (!set.Contains("connectTimeout=", StringComparison.OrdinalIgnoreCase))
        {
            configuration.ConnectTimeout = Milliseconds(options.ConnectTimeout);
        }

        if (!set.Contains("asyncTimeout=", StringComparison.OrdinalIgnoreCase))
        {
            // The client then drops a call that got no answer in time from its queue, as WithTimeout stops waiting.
            configuration.AsyncTimeout = Milliseconds(options.OperationTimeout);
        }

        // The client reads replies on a dedicated pool of its own by default (a shield for applications that block
        // thread-pool threads on Redis calls); every store call is awaited, so its continuation needs the .NET thread
        // pool anyway, and reading there saves a thread hop per reply: about a fifth more requests/s in the
        // many-sessions benchmark (docs/benchmarks.md). A socket manager the application chose is kept. StackExchange.Redis
        // 3.x has no socket managers (the property is obsolete there and ignored): the package is built on 2.x.
#pragma warning disable CS0618
        configuration.SocketManager ??= SocketManager.ThreadPool;
#pragma warning restore CS0618

        // Never fail for good: when Redis is down at start the client keeps connecting in the background, calls
        // fail fast (503) meanwhile, and the store works again as soon as Redis is back.
        configuration.AbortOnConnectFail = false;
        return configuration;
    }

    /// <summary>
    /// The multiplexer's <c>channelPrefix</c>: the client prefixes the channels it subscribes to with it, so scripts
    /// that PUBLISH must use it too. Known from the start for a connection the store makes; for one the application
    /// gives, once connected (every publishing call follows an acquire, which connects).
    /// </summary>
    public string ChannelPrefix => Volatile.Read(ref _channelPrefix) ?? string.Empty;

    /// <summary>Where the connection logs (the store's logger).</summary>
    public Microsoft.Extensions.Logging.ILogger Logger { get; set; } = Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;

    /// <summary>The limit of one call.</summary>
    public TimeSpan OperationTimeout => _operationTimeout;

    /// <summary>
    /// Scripts to load on every primary when connected and whenever a connection is restored. Call before the first
    /// use; later calls replace the list (a connection already made loads the new list on its next restore).
    /// </summary>
    public void PreloadScripts(params string[] scripts)
    {
        ArgumentNullException.ThrowIfNull(scripts);
        Volatile.Write(ref _scripts, [.. scripts]);
    }

    public async ValueTask<IDatabase> GetDatabaseAsync(string operation, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _database) is { } database)
        {
            return database;
        }

        var multiplexer = await ConnectAsync(operation, cancellationToken).ConfigureAwait(false);
        database = multiplexer.GetDatabase();
        Volatile.Write(ref _database, database);
        return database;
    }

    public async ValueTask<ISubscriber> GetSubscriberAsync(string operation, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _subscriber) is { } subscriber)
        {
            return subscriber;
        }

        var multiplexer = await ConnectAsync(operation, cancellationToken).ConfigureAwait(false);
        subscriber = multiplexer.GetSubscriber();
        Volatile.Write(ref _subscriber, subscriber);
        return subscriber;
    }

    /// <summary>
    /// Awaits <paramref name="task"/> for at most <see cref="OperationTimeout"/>, or until <paramref name="cancellationToken"/>
    /// is cancelled. A late result is observed and dropped. (On a connection the store makes, the client's own
    /// <c>asyncTimeout</c> is the same limit; this one also covers the application's multiplexers and cancellation.)
    /// </summary>
    public async Task<T> WithTimeout<T>(Task<T> task, string operation, CancellationToken cancellationToken)
    {
        try
        {
            return await Limit(task, cancellationToken);
        }
        catch (Exception ex) when (LimitFailure(ex, task, operation, cancellationToken) is var failure && failure != ex)
        {
            throw failure;
        }
    }

    /// <summary>
    /// <paramref name="task"/> within the operation timeout and <paramref name="cancellationToken"/>, for a caller that
    /// awaits it itself (the script runner: one <c>async</c> layer less per store call than <see cref="WithTimeout{T}"/>)
    /// and passes what it throws through <see cref="LimitFailure"/>.
    /// </summary>
    public ConfiguredTaskAwaitable<T> Limit<T>(Task<T> task, CancellationToken cancellationToken) =>
        task.WaitAsync(_operationTimeout, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// What <paramref name="ex"/>, thrown by <see cref="Limit{T}"/>, means for the store: no answer within the timeout
    /// becomes a <see cref="SessionStoreUnavailableException"/> naming the limit; a call given up on (time or the
    /// caller's token) is still observed, so its late failure is not unobserved; anything else is returned as it is.
    /// </summary>
    public Exception LimitFailure(Exception ex, Task task, string operation, CancellationToken cancellationToken)
    {
        if (ex is TimeoutException && !task.IsCompleted)
        {
            Observe(task);
            return new SessionStoreUnavailableException(
                $"Redis did not answer the session store's {operation} within {_operationTimeout.TotalSeconds:0.###} s (RedisSessionStoreOptions.OperationTimeout, SessionState:Redis:OperationTimeout).")
            { Operation = operation };
        }

        if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested && !task.IsCompleted)
        {
            Observe(task);
        }

        return ex;
    }

    public async Task WithTimeout(Task task, string operation, CancellationToken cancellationToken)
    {
        await WithTimeout(AsValueless(task), operation, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Loads the registered scripts on every connected primary; failures are left to EVALSHA's NOSCRIPT fallback.</summary>
    internal async Task LoadScriptsAsync(IConnectionMultiplexer multiplexer, EndPoint? only = null)
    {
        var scripts = Volatile.Read(ref _scripts);
        if (scripts.Length == 0)
        {
            return;
        }

        var loads = new List<Task>();
        foreach (var endpoint in only is null ? multiplexer.GetEndPoints() : [only])
        {
            IServer server;
            try
            {
                server = multiplexer.GetServer(endpoint);
                if (!server.IsConnected || server.IsReplica)
                {
                    continue;
                }
            }
            catch (Exception ex) when (ex is RedisException or ArgumentException or InvalidOperationException or NotSupportedException)
            {
                continue;
            }

            foreach (var script in scripts)
            {
                loads.Add(server.ScriptLoadAsync(script));
            }
        }

        try
        {
            await Task.WhenAll(loads).WaitAsync(_operationTimeout).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Preloading only saves a round trip: a script missing on a server is loaded by the EVAL after NOSCRIPT.
            foreach (var load in loads)
            {
                Observe(load);
            }
        }
    }

    private static int Milliseconds(TimeSpan span) => (int)Math.Clamp(Math.Ceiling(span.TotalMilliseconds), 1, int.MaxValue);

    private static async Task<bool> AsValueless(Task task)
    {
        await task.ConfigureAwait(false);
        return true;
    }

    private static void Observe(Task task) =>
        _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private async ValueTask<IConnectionMultiplexer> ConnectAsync(string operation, CancellationToken cancellationToken)
    {
        Task<IConnectionMultiplexer> connecting;
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_multiplexer is { } ready)
            {
                return ready;
            }

            if (_connecting is { IsFaulted: true } or { IsCanceled: true })
            {
                _connecting = null; // A failed attempt (or a factory that threw) is tried again by the next call.
            }

            connecting = _connecting ??= ConnectCoreAsync();
        }

        // The client stops trying at its connectTimeout (abortConnect=false: it then keeps reconnecting in the
        // background); a little grace on top, so that this limit is never the one that fires first. Either way the
        // message names the limit the application set (ConnectTimeout), not the grace.
        var limit = _connectTimeout + TimeSpan.FromSeconds(1);
        try
        {
            return await connecting.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!connecting.IsCompleted)
        {
            throw new SessionStoreUnavailableException(
                $"Could not connect to Redis for the session store's {operation} within {_connectTimeout.TotalSeconds:0.###} s (RedisSessionStoreOptions.ConnectTimeout, SessionState:Redis:ConnectTimeout).")
            { Operation = operation };
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SessionStoreUnavailableException)
        {
            throw new SessionStoreUnavailableException(
                $"Could not connect to Redis for the session store's {operation} within {_connectTimeout.TotalSeconds:0.###} s (RedisSessionStoreOptions.ConnectTimeout, SessionState:Redis:ConnectTimeout): {ex.Message}", ex)
            { Operation = operation };
        }
    }

    private async Task<IConnectionMultiplexer> ConnectCoreAsync()
    {
        await Task.Yield(); // Never run the application's factory or the client's connect under _sync.
        var multiplexer = await _connect().ConfigureAwait(false)
            ?? throw new InvalidOperationException("RedisSessionStoreOptions.ConnectionMultiplexerFactory returned null.");
        lock (_sync)
        {
            if (_disposed)
            {
                if (_owns)
                {
                    multiplexer.Dispose();
                }

                throw new ObjectDisposedException(nameof(RedisConnection));
            }
        }

        if (!_owns)
        {
            Volatile.Write(ref _channelPrefix, ChannelPrefixOf(multiplexer));
        }

        if (await CheckAtomicScriptsAsync(multiplexer).ConfigureAwait(false) is { } notAtomic)
        {
            if (_owns)
            {
                await multiplexer.DisposeAsync().ConfigureAwait(false);
            }

            throw new InvalidOperationException(notAtomic);
        }

        multiplexer.ConnectionRestored += OnConnectionRestored;
        await LoadScriptsAsync(multiplexer).ConfigureAwait(false);
        lock (_sync)
        {
            if (_disposed)
            {
                multiplexer.ConnectionRestored -= OnConnectionRestored;
                if (_owns)
                {
                    multiplexer.Dispose();
                }

                throw new ObjectDisposedException(nameof(RedisConnection));
            }

            _multiplexer = multiplexer;
            return multiplexer;
        }
    }

    /// <summary>
    /// On Garnet, whether it runs scripts atomically (<see cref="GarnetAtomicityCheck"/>): null when it does (or the
    /// server is not Garnet), else the error that names <c>--lua-transaction-mode true</c>. A probe that cannot run
    /// (no second connection) is logged and the connection kept.
    /// </summary>
    private async Task<string?> CheckAtomicScriptsAsync(IConnectionMultiplexer multiplexer)
    {
        if (await GarnetAtomicityCheck.FindGarnetAsync(multiplexer, _operationTimeout).ConfigureAwait(false) is not { } garnet)
        {
            return null;
        }

        try
        {
            var configuration = _configuration ?? ConfigurationOptions.Parse(multiplexer.Configuration, true);
            return await GarnetAtomicityCheck.ScriptsAreAtomicAsync(multiplexer, configuration, _operationTimeout).ConfigureAwait(false)
                ? null
                : GarnetAtomicityCheck.NotAtomic(garnet);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ArgumentException or InvalidOperationException)
        {
            RedisStoreLog.AtomicityUnchecked(Logger, ex, garnet.ToString() ?? "Garnet");
            return null;
        }
    }

    /// <summary>The <c>channelPrefix</c> of a multiplexer the store did not configure, from the client's own configuration text.</summary>
    private static string ChannelPrefixOf(IConnectionMultiplexer multiplexer)
    {
        try
        {
            return (string?)ConfigurationOptions.Parse(multiplexer.Configuration, true).ChannelPrefix ?? string.Empty;
        }
        catch (ArgumentException)
        {
            return string.Empty;
        }
    }

    private void OnConnectionRestored(object? sender, ConnectionFailedEventArgs e)
    {
        if (e.ConnectionType != ConnectionType.Interactive || sender is not IConnectionMultiplexer multiplexer || e.EndPoint is not { } endpoint)
        {
            return;
        }

        // A restarted Redis has an empty script cache; so may a server that failed over.
        _ = ReloadScriptsAsync(multiplexer, endpoint);
    }

    private async Task ReloadScriptsAsync(IConnectionMultiplexer multiplexer, EndPoint endpoint)
    {
        // The event may come just before the endpoint counts as connected again: a few short tries.
        for (var attempt = 0; attempt < 10; attempt++)
        {
            try
            {
                var server = multiplexer.GetServer(endpoint);
                if (server.IsConnected)
                {
                    await LoadScriptsAsync(multiplexer, endpoint).ConfigureAwait(false);
                    return;
                }
            }
            catch (Exception ex) when (ex is RedisException or ArgumentException or InvalidOperationException or NotSupportedException)
            {
                return;
            }

            await Task.Delay(100).ConfigureAwait(false);
        }
    }

    public void Dispose() => Detach()?.Dispose();

    public ValueTask DisposeAsync() => Detach()?.DisposeAsync() ?? ValueTask.CompletedTask;

    /// <summary>
    /// Marks the connection disposed (once) and stops listening to it; returns the multiplexer to dispose: only one this
    /// store created, never the application's (from DI or its factory).
    /// </summary>
    private IConnectionMultiplexer? Detach()
    {
        IConnectionMultiplexer? multiplexer;
        lock (_sync)
        {
            if (_disposed)
            {
                return null;
            }

            _disposed = true;
            multiplexer = _multiplexer;
            _multiplexer = null;
        }

        if (multiplexer is null)
        {
            return null;
        }

        multiplexer.ConnectionRestored -= OnConnectionRestored;
        return _owns ? multiplexer : null;
    }
}
