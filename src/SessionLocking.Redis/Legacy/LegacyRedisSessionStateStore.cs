using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SessionLocking.Diagnostics;
using StackExchange.Redis;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Shares the sessions and locks of a classic ASP.NET application that runs Microsoft.Web.RedisSessionStateProvider
/// (docs/legacy-redis.md): the provider's keys, its lock (SETNX of local-time ticks with the execution timeout as TTL,
/// released only by the holder's value), its data format (V5: one binary <c>SessionStateItemCollection</c>; V4: one hash
/// field per item) and its sliding expiry. Our lock values are local ticks in <see cref="RedisSessionStateProviderStoreOptions.LockTimeZone"/>,
/// unique per acquisition, so the classic module computes their age correctly and every write-back is fenced by them.
/// Releases of ours are published on a channel of ours (the classic side publishes nothing: behind a classic holder, waiters poll).
/// </summary>
/// <remarks>The scripts, and what each key and argument is, are in <see cref="LegacyScripts"/>.</remarks>
internal sealed class LegacyRedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, IAsyncDisposable, IDisposable
{
    private readonly RedisConnection _connection;
    private readonly LegacyLockClock _clock;
    private readonly ILogger _logger;
    private readonly string _application;
    private readonly bool _v5;
    private readonly RedisValue _defaultTimeout;
    private readonly LegacyScripts _scripts;

    public LegacyRedisSessionStateStore(RedisSessionStateProviderStoreOptions options, IConnectionMultiplexer? multiplexer, TimeProvider? timeProvider, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        _application = ValidateApplicationName(options.ApplicationName) is { } problem
            ? throw new InvalidOperationException(problem)
            : options.ApplicationName!;
        _v5 = options.Format == RedisSessionStateProviderFormat.V5;
        _clock = new LegacyLockClock(timeProvider ?? TimeProvider.System, options.LockTimeZone ?? TimeZoneInfo.Local);
        _logger = (ILogger?)loggerFactory?.CreateLogger<LegacyRedisSessionStateStore>() ?? NullLogger.Instance;
        _defaultTimeout = Seconds(options.DefaultSessionTimeout);
        _scripts = _v5 ? LegacyScripts.V5 : LegacyScripts.V4;
        if (options.ConfigurationOptions is not null || !string.IsNullOrWhiteSpace(options.Configuration))
        {
            _connection = new RedisConnection(new RedisSessionStoreOptions
            {
                Configuration = options.Configuration,
                ConfigurationOptions = options.ConfigurationOptions,
                OperationTimeout = options.OperationTimeout,
                ConnectTimeout = options.ConnectTimeout,
            });
        }
        else
        {
            _connection = new RedisConnection(
                multiplexer ?? throw new InvalidOperationException(RedisSessionStateProviderValidation.MissingConnection),
                options.OperationTimeout);
        }
    }

    /// <summary>What is wrong with an application name, or null.</summary>
    public static string? ValidateApplicationName(string? name)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            return "RedisSessionStateProviderStoreOptions.ApplicationName is required: set it to the applicationName of the classic application's RedisSessionStateProvider (its keys are {applicationName_sessionid}_...).";
        }

        if (name.IndexOfAny(['{', '}']) >= 0 || name.Any(char.IsControl))
        {
            return $"RedisSessionStateProviderStoreOptions.ApplicationName '{name}' must not contain '{{', '}}' or control characters.";
        }

        return null;
    }

    /// <inheritdoc />
    public SessionStateMode Mode => SessionStateMode.Custom;

    /// <summary>The provider's keys of one session: lock, data, timeout.</summary>
    internal RedisKey[] KeysOf(string sessionId)
    {
        var tag = "{" + _application + "_" + sessionId + "}";
        return _v5
            ? [tag + "_WriteLock", tag + "_SessionStateItemCollection", tag + "_SessionTimeout"]
            : [tag + "_Write_Lock", tag + "_Data", tag + "_Internal"];
    }

    /// <summary>The channel our releases are published on (not a key; the classic side does not use it).</summary>
    internal string Channel(string sessionId) => "SessionLocking:RedisSessionStateProvider:{" + _application + "_" + sessionId + "}:released";

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
    {
        var keys = KeysOf(sessionId);
        var value = Value(_clock.Next(lockTimeout));
        var reply = (RedisResult[])(await EvaluateAsync(
            sessionId,
            "acquire",
            _scripts.Acquire,
            keys,
            [_defaultTimeout, value, Milliseconds(lockTimeout), createIfMissing ? "1" : "0"],
            cancellationToken,
            abandoned: database => ReleaseInBackground(database, sessionId, keys, value)).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                var token = new SessionLockId(long.Parse((string)reply[1]!, NumberStyles.None, CultureInfo.InvariantCulture));
                SessionData data;
                bool uninitialized;
                try
                {
                    data = ReadData(reply[2], reply[3], out uninitialized);
                }
                catch (FormatException ex)
                {
                    await RemoveAsync(sessionId, token, CancellationToken.None).ConfigureAwait(false);
                    throw Corrupt("acquire", sessionId, ex, dropped: "the session");
                }

                if (!uninitialized)
                {
                    return SessionStoreResult.Found(data, token);
                }

                // Created by the classic CreateUninitializedItem, started by nobody: a new session, as the classic module
                // reports it. A caller that does not create sessions gets nothing taken.
                if (createIfMissing)
                {
                    return SessionStoreResult.NotFound(token);
                }

                await ReleaseAsync(sessionId, token, CancellationToken.None).ConfigureAwait(false);
                return SessionStoreResult.NotFound();
            case 1:
                return reply.Length > 1
                    ? SessionStoreResult.NotFound(new SessionLockId(long.Parse((string)reply[1]!, NumberStyles.None, CultureInfo.InvariantCulture)))
                    : SessionStoreResult.NotFound();
            default:
                return Locked((string?)reply[1]);
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken)
    {
        var reply = (RedisResult[])(await EvaluateAsync(sessionId, "read-only load", _scripts.Shared, KeysOf(sessionId), [_defaultTimeout], cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                try
                {
                    var data = ReadData(reply[1], reply[2], out var uninitialized);
                    return uninitialized ? SessionStoreResult.NotFound() : SessionStoreResult.Found(data);
                }
                catch (FormatException ex)
                {
                    throw Corrupt("read-only load", sessionId, ex, dropped: "nothing");
                }

            case 1:
                return SessionStoreResult.NotFound();
            default:
                return Locked((string?)reply[1]);
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// V5 stores the whole collection: the stored one is read back while the lock is still ours (nobody else may
    /// write it meanwhile), the changes are applied to it (untouched items keep their bytes), and it is written back
    /// only if the lock is still ours. V4 writes only the changes (HDEL, HSET), as the provider does. Both remove the
    /// provider's <c>SessionStateActions</c> item, as every write-back of the provider does.
    /// </remarks>
    public async ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        changes = ClassicSessionStateActions.Removing(changes);
        var keys = KeysOf(sessionId);
        var value = Value(lockId.Token);
        var seconds = Seconds(changes.Timeout);
        if (_v5)
        {
            var stored = new List<KeyValuePair<string, byte[]>>();
            if (!changes.IsNew)
            {
                var fetched = (RedisResult[])(await EvaluateAsync(sessionId, "write-back", _scripts.Fetch, keys, [_defaultTimeout, value], cancellationToken).ConfigureAwait(false))!;
                if ((int)fetched[0] == 0)
                {
                    return false;
                }

                try
                {
                    if ((int)fetched[0] == 2)
                    {
                        throw new FormatException("session data is not a string");
                    }

                    if ((byte[]?)fetched[1] is { } bytes)
                    {
                        stored = ClassicItemCollection.Read(bytes);
                    }
                }
                catch (FormatException ex)
                {
                    await RemoveAsync(sessionId, lockId, CancellationToken.None).ConfigureAwait(false);
                    throw Corrupt("write-back", sessionId, ex, dropped: "the session");
                }
            }

            var collection = ClassicItemCollection.Write(ClassicItemCollection.Apply(stored, changes));
            return (long)(await EvaluateAsync(
                sessionId,
                "write-back",
                _scripts.CommitV5,
                keys,
                [_defaultTimeout, value, seconds, PublishChannel(sessionId), collection, changes.IsNew ? "1" : "0"],
                cancellationToken).ConfigureAwait(false)) == 1;
        }

        var args = new RedisValue[6 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = _defaultTimeout;
        args[1] = value;
        args[2] = seconds;
        args[3] = PublishChannel(sessionId);
        args[4] = changes.IsNew ? "1" : "0";
        args[5] = changes.Removed.Count;
        var i = 6;
        foreach (var name in changes.Removed)
        {
            args[i++] = name;
        }

        foreach (var (name, bytes) in changes.Set)
        {
            args[i++] = name;
            args[i++] = bytes;
        }

        return (long)(await EvaluateAsync(sessionId, "write-back", _scripts.CommitV4, keys, args, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(sessionId, "release", _scripts.Release, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(sessionId, "remove", _scripts.Remove, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken)
    {
        RedisValue holder = holderLockId.Token == LegacyLockClock.NonNumericHolder ? string.Empty : Value(holderLockId.Token);
        return (long)(await EvaluateAsync(sessionId, "force-release", _scripts.ForceRelease, KeysOf(sessionId), [_defaultTimeout, holder, PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await EvaluateAsync(sessionId, "keep-alive", _scripts.KeepAlive, KeysOf(sessionId), [_defaultTimeout], cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onReleased);
        const string Operation = "subscribe";
        var channel = new RedisChannel(Channel(sessionId), RedisChannel.PatternMode.Literal);
        var subscriber = await _connection.GetSubscriberAsync(Operation, cancellationToken).ConfigureAwait(false);
        Action<RedisChannel, RedisValue> handler = (_, _) =>
        {
            try
            {
                onReleased();
            }
            catch
            {
                // A wake-up is a hint; polling stays the safety net.
            }
        };

        try
        {
            await _connection.WithTimeout(subscriber.SubscribeAsync(channel, handler), Operation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SessionStoreUnavailableException)
        {
            throw new SessionStoreUnavailableException($"The session store's {Operation} failed: {ex.Message}", ex) { Operation = Operation };
        }

        return new Subscription(_connection, subscriber, channel, handler);
    }

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private SessionStoreResult Locked(string? holder)
    {
        var token = LegacyLockClock.TokenOf(holder);
        return SessionStoreResult.Locked(new SessionLockId(token), _clock.AgeOf(token));
    }

    /// <summary>The loaded session, without the provider's <c>SessionStateActions</c> item; <paramref name="uninitialized"/> when that item marked it.</summary>
    private SessionData ReadData(RedisResult data, RedisResult timeoutSeconds, out bool uninitialized)
    {
        var timeout = TimeSpan.FromSeconds((long)timeoutSeconds);
        var items = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        if (_v5)
        {
            foreach (var (name, value) in ClassicItemCollection.Read((byte[]?)data ?? throw new FormatException("no collection")))
            {
                items[name] = value;
            }
        }
        else
        {
            var pairs = (RedisResult[])data!;
            for (var i = 0; i + 1 < pairs.Length; i += 2)
            {
                items[(string)pairs[i]!] = (byte[]?)pairs[i + 1] ?? [];
            }
        }

        uninitialized = ClassicSessionStateActions.Take(items, _v5);
        return new SessionData(items, timeout);
    }

    private async Task<RedisResult> EvaluateAsync(string sessionId, string operation, string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken, Action<IDatabase>? abandoned = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(operation, cancellationToken).ConfigureAwait(false);
        Task<RedisResult>? pending = null;
        try
        {
            pending = database.ScriptEvaluateAsync(script, keys, args);
            return await _connection.WithTimeout(pending, operation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            if (abandoned is not null && pending is not null
                && (!pending.IsCompleted || pending.IsCompletedSuccessfully || pending.Exception!.InnerException is not RedisServerException))
            {
                abandoned(database);
            }

            if (ex is OperationCanceledException or SessionStoreUnavailableException)
            {
                throw;
            }

            if (ex is RedisServerException server && server.Message.StartsWith(LegacyScripts.CorruptMarker, StringComparison.Ordinal))
            {
                // "SESSIONCORRUPT what|dropped": the script found a record the provider would never write, before taking anything.
                var detail = server.Message[LegacyScripts.CorruptMarker.Length..].Trim();
                var bar = detail.IndexOf('|', StringComparison.Ordinal);
                throw Corrupt(operation, sessionId, bar < 0 ? detail : detail[..bar], bar < 0 ? "it" : detail[(bar + 1)..], server);
            }

            throw new SessionStoreUnavailableException(
                ex is RedisServerException
                    ? $"Redis answered the session store's {operation} with an error: {ex.Message}"
                    : $"The session store's {operation} failed: Redis is unavailable ({ex.GetType().Name}: {ex.Message}).",
                ex)
            { Operation = operation };
        }
    }

    /// <summary>
    /// An acquire the store stopped waiting for may still take the lock: a release fenced by the value it proposed is
    /// queued right behind it on the same connection, so no lock nobody knows stays behind.
    /// </summary>
    private void ReleaseInBackground(IDatabase database, string sessionId, RedisKey[] keys, RedisValue value)
    {
        try
        {
            _ = database.ScriptEvaluateAsync(_scripts.Release, keys, [_defaultTimeout, value, PublishChannel(sessionId)])
                .ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException)
        {
            _logger.LogDebug(ex, "Session {SessionKey}: releasing the lock of an abandoned acquire failed; it expires by its time to live.", new SessionKey(sessionId));
        }
    }

    private SessionStoreCorruptException Corrupt(string operation, string sessionId, FormatException ex, string dropped) =>
        Corrupt(operation, sessionId, "session data", dropped, ex, detail: ex.Message);

    private SessionStoreCorruptException Corrupt(string operation, string sessionId, string what, string dropped, Exception ex, string? detail = null)
    {
        detail ??= what == "session timeout" ? "the session timeout is not a whole number of seconds from 1 to 2147483647" : what;
        RedisStoreLog.LegacySessionCorrupt(_logger, ex, new SessionKey(sessionId), detail, dropped);
        return new SessionStoreCorruptException(
            $"The classic session's record in Redis is corrupt ({detail}), found by the store's {operation}. The store dropped {dropped} and holds no lock; the next request starts afresh.", ex)
        {
            Operation = operation,
            What = what,
        };
    }

    private RedisValue PublishChannel(string sessionId) => _connection.ChannelPrefix + Channel(sessionId);

    private static RedisValue Value(long token) => token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Seconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalSeconds), 1, int.MaxValue)).ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalMilliseconds), 1, (long)int.MaxValue * 1000)).ToString(CultureInfo.InvariantCulture);

    private sealed class Subscription(RedisConnection connection, ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
    {
        private int _disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                await connection.WithTimeout(subscriber.UnsubscribeAsync(channel, handler), "unsubscribe", CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
