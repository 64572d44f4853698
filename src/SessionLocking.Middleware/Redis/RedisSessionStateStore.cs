using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The distributed store: sessions in Redis, one Lua script (one round trip) per store operation, fenced by a
/// per-session token, lock age measured with the Redis server's clock, releases published on the session's
/// channel. The protocol is described in docs/redis-protocol.md.
/// </summary>
/// <remarks>
/// Every script receives the session's four keys, always in this order, all under one cluster hash tag:
/// KEYS[1] <c>{prefix:id}:data</c> (hash of items by exact name), KEYS[2] <c>{prefix:id}:meta</c> (hash with
/// <c>timeout</c> in milliseconds; it exists exactly while the session is stored), KEYS[3] <c>{prefix:id}:lock</c>
/// (hash with <c>token</c> and <c>at</c>, the acquisition time in microseconds of the server's clock; its TTL is the
/// lock timeout), KEYS[4] <c>{prefix:id}:fence</c> (the last token issued). No script builds a key.
/// </remarks>
internal sealed class RedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, IAsyncDisposable, IDisposable
{
    // Shared Lua helpers, prepended to the scripts that use them.
    // int(): numbers go to Redis as plain integer strings (tokens are microseconds, too large for Lua's %.14g).
    // slide(): data, meta and fence live for the session's timeout, and never shorter than a lock that is held
    // (a locked session never expires under its holder; the fence outlives the lock it fences).
    private const string Helpers = """
        local function int(n) return string.format('%.0f', n) end
        local function slide(ms)
          local ttl = tonumber(ms)
          local lock_ttl = redis.call('PTTL', KEYS[3])
          if lock_ttl > ttl then ttl = lock_ttl end
          ttl = int(ttl)
          redis.call('PEXPIRE', KEYS[1], ttl)
          redis.call('PEXPIRE', KEYS[2], ttl)
          redis.call('PEXPIRE', KEYS[4], ttl)
        end

        """;

    /// <summary>
    /// Exclusive acquire-and-load. ARGV[1] lock TTL in ms, ARGV[2] '1' to lock a missing session.
    /// Returns {2, holderToken, lockAgeMicroseconds} when locked; {1} when missing (nothing taken);
    /// {1, token} when missing and now locked by the caller; {0, token, HGETALL data, timeoutMs} when loaded and locked.
    /// The token is max(last token + 1, server time in µs): it only grows, and stays above every earlier one even
    /// if the fence key was lost.
    /// </summary>
    public const string AcquireScript = "redis.replicate_commands()\n" + Helpers + """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local holder = redis.call('HMGET', KEYS[3], 'token', 'at')
        if holder[1] then
          return {2, holder[1], now - tonumber(holder[2] or now)}
        end
        local timeout = redis.call('HGET', KEYS[2], 'timeout')
        if not timeout and ARGV[2] ~= '1' then
          return {1}
        end
        if timeout and not tonumber(timeout) then
          return redis.error_reply('corrupt session: meta timeout is not a number')
        end
        local token = tonumber(redis.call('GET', KEYS[4]) or '0') + 1
        if now > token then token = now end
        token = int(token)
        redis.call('SET', KEYS[4], token, 'PX', ARGV[1])
        redis.call('HSET', KEYS[3], 'token', token, 'at', int(now))
        redis.call('PEXPIRE', KEYS[3], ARGV[1])
        if not timeout then
          return {1, token}
        end
        slide(timeout)
        return {0, token, redis.call('HGETALL', KEYS[1]), timeout}
        """;

    /// <summary>
    /// Shared load, no lock. No ARGV. Returns {2, holderToken, lockAgeMicroseconds} while a writer holds the lock;
    /// {1} when missing; {0, HGETALL data, timeoutMs} when loaded (and the expiry slid).
    /// </summary>
    public const string SharedScript = "redis.replicate_commands()\n" + Helpers + """
        local holder = redis.call('HMGET', KEYS[3], 'token', 'at')
        if holder[1] then
          local t = redis.call('TIME')
          local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
          return {2, holder[1], now - tonumber(holder[2] or now)}
        end
        local timeout = redis.call('HGET', KEYS[2], 'timeout')
        if not timeout then
          return {1}
        end
        slide(timeout)
        return {0, redis.call('HGETALL', KEYS[1]), timeout}
        """;

    /// <summary>
    /// Fenced write-back-and-release. ARGV[1] token, ARGV[2] timeout ms, ARGV[3] channel, ARGV[4] n = number of
    /// removed names, ARGV[5 .. 4+n] removed names, then name/value pairs to set. Deletes the removed items, then
    /// sets the changed ones (never the whole session), stores the timeout, releases, slides, publishes.
    /// Returns 1, or 0 (and changes nothing) when the token is not the current lock.
    /// </summary>
    public const string WriteAndReleaseScript = Helpers + """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
          return 0
        end
        local first = 5
        local last = 4 + tonumber(ARGV[4])
        while first <= last do
          local upto = math.min(first + 999, last)
          redis.call('HDEL', KEYS[1], unpack(ARGV, first, upto))
          first = upto + 1
        end
        last = #ARGV
        while first <= last do
          local upto = math.min(first + 999, last)
          redis.call('HSET', KEYS[1], unpack(ARGV, first, upto))
          first = upto + 1
        end
        redis.call('HSET', KEYS[2], 'timeout', ARGV[2])
        redis.call('DEL', KEYS[3])
        slide(ARGV[2])
        redis.call('PUBLISH', ARGV[3], ARGV[1])
        return 1
        """;

    /// <summary>
    /// Fenced release without writing. ARGV[1] token, ARGV[2] channel. Slides a stored session; a session locked
    /// while missing and never written stays missing. Returns 1, or 0 when the token is not the current lock.
    /// </summary>
    public const string ReleaseScript = Helpers + """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[3])
        local timeout = redis.call('HGET', KEYS[2], 'timeout')
        if timeout then
          slide(timeout)
        end
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    /// <summary>
    /// Fenced remove (abandon). ARGV[1] token, ARGV[2] channel. Deletes data, meta and lock; the fence key stays
    /// (with its TTL) so tokens of a re-created session keep growing. Returns 1, or 0 when the token is not the current lock.
    /// </summary>
    public const string RemoveScript = """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    /// <summary>
    /// Force-release of one holder's lock (its age reached the execution timeout). ARGV[1] the holder's token,
    /// ARGV[2] channel. Deletes the lock only while it is still that holder's. Returns 1, or 0 when that lock was gone.
    /// </summary>
    public const string ForceReleaseScript = """
        if redis.call('HGET', KEYS[3], 'token') ~= ARGV[1] then
          return 0
        end
        redis.call('DEL', KEYS[3])
        redis.call('PUBLISH', ARGV[2], ARGV[1])
        return 1
        """;

    /// <summary>Keep-alive: slides the expiry of a stored session; no ARGV. Returns 1, or 0 when missing.</summary>
    public const string KeepAliveScript = Helpers + """
        local timeout = redis.call('HGET', KEYS[2], 'timeout')
        if timeout then
          slide(timeout)
          return 1
        end
        return 0
        """;

    private static readonly Script Acquire = new("acquire", AcquireScript);
    private static readonly Script Shared = new("read-only load", SharedScript);
    private static readonly Script WriteAndRelease = new("write-back", WriteAndReleaseScript);
    private static readonly Script Release = new("release", ReleaseScript);
    private static readonly Script Remove = new("remove", RemoveScript);
    private static readonly Script ForceRelease = new("force-release", ForceReleaseScript);
    private static readonly Script KeepAlive = new("keep-alive", KeepAliveScript);

    /// <summary>The longest TTL sent to Redis: 100 years, far past any real timeout.</summary>
    private static readonly long MaxTtlMilliseconds = (long)TimeSpan.FromDays(36_500).TotalMilliseconds;

    private readonly RedisConnection _connection;
    private readonly RedisSessionKeys _keys;

    /// <summary>Creates a store that connects on first use, as <paramref name="options"/> say (factory, <c>ConfigurationOptions</c> or configuration string).</summary>
    public RedisSessionStateStore(RedisSessionStoreOptions options)
        : this(new RedisConnection(options ?? throw new ArgumentNullException(nameof(options))), options.KeyPrefix)
    {
    }

    /// <summary>Creates a store on a multiplexer the application owns.</summary>
    public RedisSessionStateStore(IConnectionMultiplexer multiplexer, RedisSessionStoreOptions options)
        : this(new RedisConnection(multiplexer, (options ?? throw new ArgumentNullException(nameof(options))).OperationTimeout), options.KeyPrefix)
    {
    }

    private RedisSessionStateStore(RedisConnection connection, string keyPrefix)
    {
        _keys = new RedisSessionKeys(keyPrefix);
        _connection = connection;
        connection.PreloadScripts(Acquire.Text, Shared.Text, WriteAndRelease.Text, Release.Text, Remove.Text, ForceRelease.Text, KeepAlive.Text);
    }

    /// <inheritdoc />
    public SessionStateMode Mode => SessionStateMode.Custom;

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
    {
        var keys = _keys.For(sessionId);
        var reply = (RedisResult[])(await EvaluateAsync(Acquire, keys, [Milliseconds(lockTimeout), createIfMissing ? "1" : "0"], cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                return SessionStoreResult.Found(ReadData(reply[2], reply[3]), ReadToken(reply[1]));
            case 1:
                return reply.Length > 1 ? SessionStoreResult.NotFound(ReadToken(reply[1])) : SessionStoreResult.NotFound();
            default:
                return SessionStoreResult.Locked(ReadToken(reply[1]), ReadAge(reply[2]));
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken)
    {
        var keys = _keys.For(sessionId);
        var reply = (RedisResult[])(await EvaluateAsync(Shared, keys, [], cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                return SessionStoreResult.Found(ReadData(reply[1], reply[2]));
            case 1:
                return SessionStoreResult.NotFound();
            default:
                return SessionStoreResult.Locked(ReadToken(reply[1]), ReadAge(reply[2]));
        }
    }

    /// <inheritdoc />
    public async ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var keys = _keys.For(sessionId);
        var args = new RedisValue[4 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = Token(lockId);
        args[1] = Milliseconds(changes.Timeout);
        args[2] = PublishChannel(sessionId);
        args[3] = changes.Removed.Count;
        var i = 4;
        foreach (var name in changes.Removed)
        {
            args[i++] = name;
        }

        foreach (var (name, value) in changes.Set)
        {
            args[i++] = name;
            args[i++] = value;
        }

        return (long)(await EvaluateAsync(WriteAndRelease, keys, args, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(Release, _keys.For(sessionId), [Token(lockId), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(Remove, _keys.For(sessionId), [Token(lockId), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(ForceRelease, _keys.For(sessionId), [Token(holderLockId), PublishChannel(sessionId)], cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await EvaluateAsync(KeepAlive, _keys.For(sessionId), [], cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onReleased);
        const string Operation = "subscribe";
        var channel = new RedisChannel(_keys.Channel(sessionId), RedisChannel.PatternMode.Literal);
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

        Task subscribing;
        try
        {
            subscribing = subscriber.SubscribeAsync(channel, handler, CommandFlags.None);
        }
        catch (Exception ex)
        {
            throw Unavailable(Operation, ex);
        }

        try
        {
            await _connection.WithTimeout(subscribing, Operation, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            // The subscription may still complete later: make sure it does not stay behind.
            _ = subscribing.ContinueWith(
                _ => subscriber.UnsubscribeAsync(channel, handler, CommandFlags.FireAndForget),
                CancellationToken.None,
                TaskContinuationOptions.ExecuteSynchronously,
                TaskScheduler.Default);
            if (ex is OperationCanceledException or SessionStoreUnavailableException)
            {
                throw;
            }

            throw Unavailable(Operation, ex);
        }

        return new Subscription(_connection, subscriber, channel, handler);
    }

    /// <inheritdoc />
    public void Dispose() => _connection.Dispose();

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    /// <summary>Runs a script by its SHA1 (EVALSHA); after a NOSCRIPT answer (Redis restarted or flushed its scripts) once with its text (EVAL), which loads it again.</summary>
    private async Task<RedisResult> EvaluateAsync(Script script, RedisKey[] keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(script.Operation, cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                return await _connection.WithTimeout(database.ScriptEvaluateAsync(script.Hash, keys, args, CommandFlags.None), script.Operation, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                return await _connection.WithTimeout(database.ScriptEvaluateAsync(script.Text, keys, args, CommandFlags.None), script.Operation, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not SessionStoreUnavailableException)
        {
            throw Unavailable(script.Operation, ex);
        }
    }

    private SessionStoreUnavailableException Unavailable(string operation, Exception ex) =>
        new(ex is RedisServerException
                ? $"Redis answered the session store's {operation} with an error: {ex.Message}"
                : $"The session store's {operation} failed: Redis is unavailable ({ex.GetType().Name}: {ex.Message}). Each call waits at most {_connection.OperationTimeout.TotalSeconds:0.###} s (SessionState:Redis:OperationTimeout).",
            ex)
        { Operation = operation };

    private RedisValue PublishChannel(string sessionId) => _connection.ChannelPrefix + _keys.Channel(sessionId);

    private static RedisValue Token(SessionLockId lockId) => lockId.Token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span)
    {
        var ms = (long)Math.Ceiling(span.TotalMilliseconds);
        return Math.Clamp(ms, 1, MaxTtlMilliseconds).ToString(CultureInfo.InvariantCulture);
    }

    private static SessionLockId ReadToken(RedisResult value) =>
        new(long.Parse((string)value!, NumberStyles.None, CultureInfo.InvariantCulture));

    private static TimeSpan ReadAge(RedisResult microseconds) => TimeSpan.FromTicks((long)microseconds * 10);

    private static SessionData ReadData(RedisResult items, RedisResult timeoutMilliseconds)
    {
        var pairs = (RedisResult[])items!;
        var map = new Dictionary<string, byte[]>(pairs.Length / 2, StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            map[(string)pairs[i]!] = (byte[])pairs[i + 1]! ?? [];
        }

        var timeout = TimeSpan.FromMilliseconds(long.Parse((string)timeoutMilliseconds!, NumberStyles.None, CultureInfo.InvariantCulture));
        return new SessionData(map, timeout);
    }

    /// <summary>A script, its text and its SHA1 (what EVALSHA sends).</summary>
    private sealed class Script(string operation, string text)
    {
        public string Operation { get; } = operation;

        public string Text { get; } = text;

        public byte[] Hash { get; } = SHA1.HashData(Encoding.UTF8.GetBytes(text));
    }

    private sealed class Subscription(RedisConnection connection, ISubscriber subscriber, RedisChannel channel, Action<RedisChannel, RedisValue> handler) : IAsyncDisposable
    {
        private int _disposed;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0)
            {
                return;
            }

            const string Operation = "unsubscribe";
            try
            {
                await connection.WithTimeout(subscriber.UnsubscribeAsync(channel, handler, CommandFlags.None), Operation, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not SessionStoreUnavailableException)
            {
                throw new SessionStoreUnavailableException($"The session store's {Operation} failed: {ex.Message}", ex) { Operation = Operation };
            }
        }
    }
}
