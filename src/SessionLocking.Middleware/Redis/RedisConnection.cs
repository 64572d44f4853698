using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The store's connection to Redis: made once, lazily, on first use (like Microsoft.Extensions.Caching.StackExchangeRedis),
/// or an <see cref="IConnectionMultiplexer"/> the application registered. Only the part of the StackExchange.Redis API
/// that 1.2.6 and 2.x share is used: the store keeps its own multiplexer reference (never <c>IDatabase.Multiplexer</c>),
/// disposes the <see cref="ConnectionMultiplexer"/> it created (never one it was given), parses with
/// <c>ignoreUnknown: true</c>, and bounds every call with its own timeout because 1.2.6 async calls have none.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable, IDisposable
{
    private readonly object _sync = new();
    private readonly string? _configuration;
    private readonly TimeSpan _connectTimeout;
    private readonly TimeSpan _operationTimeout;
    private IConnectionMultiplexer? _multiplexer;
    private ConnectionMultiplexer? _owned;
    private Task<IConnectionMultiplexer>? _connecting;
    private IDatabase? _database;
    private ISubscriber? _subscriber;
    private bool _disposed;

    /// <summary>A connection the store makes itself from a configuration string, on first use.</summary>
    public RedisConnection(string configuration, TimeSpan connectTimeout, TimeSpan operationTimeout)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        _configuration = configuration;
        _connectTimeout = connectTimeout;
        _operationTimeout = operationTimeout;
        ChannelPrefix = ChannelPrefixOf(configuration);
    }

    /// <summary>A multiplexer the application owns (registered in DI); it is never disposed here.</summary>
    public RedisConnection(IConnectionMultiplexer multiplexer, TimeSpan operationTimeout)
    {
        _multiplexer = multiplexer ?? throw new ArgumentNullException(nameof(multiplexer));
        _operationTimeout = operationTimeout;
        _connectTimeout = operationTimeout;
        ChannelPrefix = ChannelPrefixOf(multiplexer.Configuration);
    }

    /// <summary>
    /// The multiplexer's <c>channelPrefix</c>: it prefixes the channels the client subscribes to, so scripts that
    /// PUBLISH must use it too. Read from the configuration string, because the property's type differs between
    /// client versions.
    /// </summary>
    public string ChannelPrefix { get; }

    /// <summary>The limit of one call.</summary>
    public TimeSpan OperationTimeout => _operationTimeout;

    public async ValueTask<IDatabase> GetDatabaseAsync(string operation, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _database) is { } database)
        {
            return database;
        }

        var multiplexer = await ConnectAsync(operation, cancellationToken).ConfigureAwait(false);
        database = multiplexer.GetDatabase(-1, null);
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
        subscriber = multiplexer.GetSubscriber(null);
        Volatile.Write(ref _subscriber, subscriber);
        return subscriber;
    }

    /// <summary>
    /// Awaits <paramref name="task"/> for at most <see cref="OperationTimeout"/>, or until <paramref name="cancellationToken"/>
    /// is cancelled. A late result is observed and dropped.
    /// </summary>
    public async Task<T> WithTimeout<T>(Task<T> task, string operation, CancellationToken cancellationToken)
    {
        try
        {
            return await task.WaitAsync(_operationTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!task.IsCompleted)
        {
            Observe(task);
            throw new SessionStoreUnavailableException(
                $"Redis did not answer the session store's {operation} within {_operationTimeout.TotalSeconds:0.###} s (RedisSessionStoreOptions.OperationTimeout, SessionState:Redis:OperationTimeout).")
            { Operation = operation };
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !task.IsCompleted)
        {
            Observe(task);
            throw;
        }
    }

    public async Task WithTimeout(Task task, string operation, CancellationToken cancellationToken)
    {
        await WithTimeout(AsValueless(task), operation, cancellationToken).ConfigureAwait(false);
    }

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

            connecting = _connecting ??= ConnectCoreAsync();
        }

        // The client stops trying at its connectTimeout (abortConnect=false: it then keeps reconnecting in the
        // background); a little grace on top, so that this limit is never the one that fires first.
        var limit = _connectTimeout + TimeSpan.FromSeconds(1);
        try
        {
            return await connecting.WaitAsync(limit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException) when (!connecting.IsCompleted)
        {
            throw new SessionStoreUnavailableException(
                $"Could not connect to Redis for the session store's {operation} within {limit.TotalSeconds:0.###} s (RedisSessionStoreOptions.ConnectTimeout, SessionState:Redis:ConnectTimeout).")
            { Operation = operation };
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SessionStoreUnavailableException)
        {
            throw new SessionStoreUnavailableException(
                $"Could not connect to Redis for the session store's {operation}: {ex.Message}", ex)
            { Operation = operation };
        }
    }

    private async Task<IConnectionMultiplexer> ConnectCoreAsync()
    {
        try
        {
            var options = ConfigurationOptions.Parse(_configuration!, true);
            options.AbortOnConnectFail = false;
            if (_configuration!.IndexOf("connectTimeout", StringComparison.OrdinalIgnoreCase) < 0)
            {
                options.ConnectTimeout = (int)Math.Clamp(_connectTimeout.TotalMilliseconds, 1, int.MaxValue);
            }

            var multiplexer = await ConnectionMultiplexer.ConnectAsync(options, null).ConfigureAwait(false);
            lock (_sync)
            {
                if (_disposed)
                {
                    multiplexer.Dispose();
                    throw new ObjectDisposedException(nameof(RedisConnection));
                }

                _owned = multiplexer;
                _multiplexer = multiplexer;
                return multiplexer;
            }
        }
        catch
        {
            lock (_sync)
            {
                _connecting = null; // The next call tries again.
            }

            throw;
        }
    }

    /// <summary>Reads <c>channelPrefix=...</c> from a StackExchange.Redis configuration string.</summary>
    internal static string ChannelPrefixOf(string? configuration)
    {
        if (string.IsNullOrEmpty(configuration))
        {
            return string.Empty;
        }

        foreach (var part in configuration.Split(','))
        {
            var token = part.Trim();
            const string Name = "channelPrefix=";
            if (token.StartsWith(Name, StringComparison.OrdinalIgnoreCase))
            {
                return token[Name.Length..].Trim();
            }
        }

        return string.Empty;
    }

    public void Dispose()
    {
        ConnectionMultiplexer? owned;
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            owned = _owned;
            _owned = null;
        }

        // Only the multiplexer this store created; one from the application's DI container is the application's.
        owned?.Dispose();
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}
