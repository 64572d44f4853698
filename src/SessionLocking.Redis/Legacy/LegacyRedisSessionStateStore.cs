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
/// <remarks>
/// Every script gets KEYS[1] the lock, KEYS[2] the data, KEYS[3] the timeout key, all under the hash tag
/// <c>{app_id}</c>, and ARGV[1] the default session timeout in seconds (used when the timeout key is missing).
/// </remarks>
internal sealed class LegacyRedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, IAsyncDisposable, IDisposable
{
    private const string Prologue = """
        local lock_key = KEYS[1]
        local data_key = KEYS[2]
        local timeout_key = KEYS[3]
        local default_timeout = tonumber(ARGV[1])

        """;

    private const string V5Helpers = """
        local function read_timeout() return redis.call('GET', timeout_key) end
        local function write_timeout(sec) redis.call('SET', timeout_key, sec, 'EX', sec) end
        local function exists() return redis.call('EXISTS', data_key) == 1 end
        local function load() return redis.call('GET', data_key) end

        """;

    private const string V4Helpers = """
        local function read_timeout() return redis.call('HGET', timeout_key, 'SessionTimeout') end
        local function write_timeout(sec)
          redis.call('HSET', timeout_key, 'SessionTimeout', sec)
          redis.call('EXPIRE', timeout_key, sec)
        end
        local function exists() return redis.call('EXISTS', data_key) == 1 or redis.call('EXISTS', timeout_key) == 1 end
        local function load() return redis.call('HGETALL', data_key) end

        """;

    // timeout_seconds(): the stored timeout when it is a positive number, else the default (as the provider does).
    // slide(): data and timeout key live for the session timeout from now (what every provider script does).
    // unlock(): deletes the lock and wakes our waiters.
    private const string Common = LuaHashChanges.Function + """
        local function timeout_seconds()
          local t = read_timeout()
          local n = t and tonumber(t)
          if n and n >= 1 then return math.floor(n) end
          return default_timeout
        end
        local function slide()
          local sec = timeout_seconds()
          redis.call('EXPIRE', data_key, sec)
          redis.call('EXPIRE', timeout_key, sec)
          return sec
        end
        local function unlock(channel, token)
          redis.call('DEL', lock_key)
          redis.call('PUBLISH', channel, token)
        end

        """;

    /// <summary>ARGV[2] our lock value, ARGV[3] lock TTL ms, ARGV[4] '1' to lock a missing session. {2, holder} | {1} | {1, value} | {0, value, data, timeoutSeconds}.</summary>
    private const string AcquireBody = """
        local holder = redis.call('GET', lock_key)
        if holder then
          if exists() then slide() end
          return {2, holder}
        end
        if not exists() then
          if ARGV[4] ~= '1' then return {1} end
          redis.call('SET', lock_key, ARGV[2], 'PX', ARGV[3])
          return {1, ARGV[2]}
        end
        redis.call('SET', lock_key, ARGV[2], 'PX', ARGV[3])
        local sec = slide()
        return {0, ARGV[2], load(), sec}
        """;

    /// <summary>No more ARGV. {2, holder} while a writer holds the lock | {1} | {0, data, timeoutSeconds}.</summary>
    private const string SharedBody = """
        local holder = redis.call('GET', lock_key)
        local sec = nil
        if exists() then sec = slide() end
        if holder then return {2, holder} end
        if not sec then return {1} end
        return {0, load(), sec}
        """;

    /// <summary>V5 write-back, step 1. ARGV[2] our value. {0} when not ours | {1, data or false}.</summary>
    private const string FetchBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return {0} end
        return {1, load()}
        """;

    /// <summary>
    /// V5 write-back, step 2. ARGV[2] our value, ARGV[3] timeout s, ARGV[4] channel, ARGV[5] the whole collection, ARGV[6]
    /// '1' when the session was new. 1 | 0 when not ours | 2 when a stored session vanished under its holder (released, nothing written).
    /// </summary>
    private const string CommitV5Body = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        if ARGV[6] ~= '1' and not exists() then
          unlock(ARGV[4], ARGV[2])
          return 2
        end
        redis.call('SET', data_key, ARGV[5], 'EX', ARGV[3])
        write_timeout(ARGV[3])
        unlock(ARGV[4], ARGV[2])
        return 1
        """;

    /// <summary>
    /// V4 write-back (partial). ARGV[2] our value, ARGV[3] timeout s, ARGV[4] channel, ARGV[5] '1' when new, ARGV[6] n
    /// removed, ARGV[7 .. 6+n] removed names, then name/value pairs. 1 | 0 | 2 as <see cref="CommitV5Body"/>.
    /// </summary>
    private const string CommitV4Body = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        if ARGV[5] ~= '1' and not exists() then
          unlock(ARGV[4], ARGV[2])
          return 2
        end
        hash_changes(data_key, 7, 6 + tonumber(ARGV[6]))
        redis.call('EXPIRE', data_key, ARGV[3])
        write_timeout(ARGV[3])
        unlock(ARGV[4], ARGV[2])
        return 1
        """;

    /// <summary>ARGV[2] our value, ARGV[3] channel. 1 | 0 when not ours.</summary>
    private const string ReleaseBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        unlock(ARGV[3], ARGV[2])
        if exists() then slide() end
        return 1
        """;

    /// <summary>ARGV[2] our value, ARGV[3] channel. 1 | 0 when not ours.</summary>
    private const string RemoveBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        redis.call('DEL', data_key, timeout_key)
        unlock(ARGV[3], ARGV[2])
        return 1
        """;

    /// <summary>ARGV[2] the holder's value ('' for a holder whose value is not a positive integer), ARGV[3] channel. 1 | 0.</summary>
    private const string ForceReleaseBody = """
        local v = redis.call('GET', lock_key)
        if not v then return 0 end
        local match
        if ARGV[2] == '' then
          match = not string.find(v, '^[1-9]%d*$') or #v > 19 or (#v == 19 and v > '9223372036854775807')
        else
          match = v == ARGV[2]
        end
        if not match then return 0 end
        unlock(ARGV[3], v)
        return 1
        """;

    private const string KeepAliveBody = """
        if exists() then slide() end
        return 1
        """;

    private readonly RedisConnection _connection;
    private readonly LegacyLockClock _clock;
    private readonly ILogger _logger;
    private readonly string _application;
    private readonly bool _v5;
    private readonly RedisValue _defaultTimeout;
    private readonly Scripts _scripts;

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
        _scripts = _v5 ? Scripts.V5 : Scripts.V4;
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
                try
                {
                    data = ReadData(reply[2], reply[3]);
                }
                catch (FormatException ex)
                {
                    await RemoveAsync(sessionId, token, CancellationToken.None).ConfigureAwait(false);
                    throw Corrupt("acquire", sessionId, ex, dropped: "the session");
                }

                return SessionStoreResult.Found(data, token);
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
        var reply = (RedisResult[])(await EvaluateAsync("read-only load", _scripts.Shared, KeysOf(sessionId), [_defaultTimeout], cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                try
                {
                    return SessionStoreResult.Found(ReadData(reply[1], reply[2]));
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
    /// only if the lock is still ours. V4 writes only the changes (HDEL, HSET), as the provider does.
    /// </remarks>
    public async ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var keys = KeysOf(sessionId);
        var value = Value(lockId.Token);
        var seconds = Seconds(changes.Timeout);
        if (_v5)
        {
            var stored = new List<KeyValuePair<string, byte[]>>();
            if (!changes.IsNew)
            {
                var fetched = (RedisResult[])(await EvaluateAsync("write-back", _scripts.Fetch, keys, [_defaultTimeout, value], cancellationToken).ConfigureAwait(false))!;
                if ((int)fetched[0] == 0)
                {
                    return false;
                }

                if ((byte[]?)fetched[1] is { } bytes)
                {
                    try
                    {
                        stored = ClassicItemCollection.Read(bytes);
                    }
                    catch (FormatException ex)
                    {
                        await RemoveAsync(sessionId, lockId, CancellationToken.None).ConfigureAwait(false);
                        throw Corrupt("write-back", sessionId, ex, dropped: "the session");
                    }
                }
            }

            var collection = ClassicItemCollection.Write(ClassicItemCollection.Apply(stored, changes));
            return (long)(await EvaluateAsync(
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

        return (long)(await EvaluateAsync("write-back", _scripts.CommitV4, keys, args, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync("release", _scripts.Release, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync("remove", _scripts.Remove, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken)
    {
        RedisValue holder = holderLockId.Token == LegacyLockClock.NonNumericHolder ? string.Empty : Value(holderLockId.Token);
        return (long)(await EvaluateAsync("force-release", _scripts.ForceRelease, KeysOf(sessionId), [_defaultTimeout, holder, PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await EvaluateAsync("keep-alive", _scripts.KeepAlive, KeysOf(sessionId), [_defaultTimeout], cancellationToken).ConfigureAwait(false);

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

    private SessionData ReadData(RedisResult data, RedisResult timeoutSeconds)
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

        return new SessionData(items, timeout);
    }

    private async Task<RedisResult> EvaluateAsync(string operation, string script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken, Action<IDatabase>? abandoned = null)
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

    private SessionStoreCorruptException Corrupt(string operation, string sessionId, FormatException ex, string dropped)
    {
        _logger.LogError(ex, "Session {SessionKey}: its stored SessionStateItemCollection is corrupt ({What}); the store dropped {Dropped}.", new SessionKey(sessionId), ex.Message, dropped);
        return new SessionStoreCorruptException(
            $"The classic session's data in Redis is corrupt ({ex.Message}), found by the store's {operation}. The store dropped {dropped} and holds no lock.", ex)
        {
            Operation = operation,
            What = "session data",
        };
    }

    private RedisValue PublishChannel(string sessionId) => _connection.ChannelPrefix + Channel(sessionId);

    private static RedisValue Value(long token) => token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Seconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalSeconds), 1, int.MaxValue)).ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalMilliseconds), 1, (long)int.MaxValue * 1000)).ToString(CultureInfo.InvariantCulture);

    private sealed class Scripts
    {
        public static readonly Scripts V5 = new(V5Helpers);
        public static readonly Scripts V4 = new(V4Helpers);

        private Scripts(string helpers)
        {
            var head = Prologue + helpers + Common;
            Acquire = head + AcquireBody;
            Shared = head + SharedBody;
            Fetch = head + FetchBody;
            CommitV5 = head + CommitV5Body;
            CommitV4 = head + CommitV4Body;
            Release = head + ReleaseBody;
            Remove = head + RemoveBody;
            ForceRelease = head + ForceReleaseBody;
            KeepAlive = head + KeepAliveBody;
        }

        public string Acquire { get; }

        public string Shared { get; }

        public string Fetch { get; }

        public string CommitV5 { get; }

        public string CommitV4 { get; }

        public string Release { get; }

        public string Remove { get; }

        public string ForceRelease { get; }

        public string KeepAlive { get; }
    }

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
