using System.Diagnostics.Metrics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SessionLocking.Diagnostics;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The distributed store: sessions in Redis, one Lua script (one round trip) per store operation, fenced by a
/// per-session token, lock age measured with the Redis server's clock, releases published on the session's
/// channel. The protocol is described in docs/redis-protocol.md.
/// </summary>
/// <remarks>
/// Every script receives the session's two keys, always in this order, both under one cluster hash tag:
/// KEYS[1] <c>{prefix:id}:session</c>, one hash holding the items (fields <c>i:</c> + exact item name) and the
/// metadata fields <c>timeout</c> (milliseconds) and <c>fence</c> (the last token issued); it exists exactly while
/// the session is stored, so eviction or expiry takes a session whole. KEYS[2] <c>{prefix:id}:lock</c>, a hash with
/// <c>token</c>, <c>at</c> (acquisition time in microseconds of the server's clock) and <c>owner</c> (a nonce the
/// store chose for the acquire call); its TTL is the lock timeout. No script builds a key.
/// </remarks>
internal sealed class RedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, IAsyncDisposable, IDisposable
{
    /// <summary>The counter of locks taken by abandoned acquires and released by the store.</summary>
    public const string AbandonedReleasedCounter = "sessionlocking.lock.abandoned_released";

    /// <summary>The counter of writes (write-backs, abandons, acquires) the primary applied but too few replicas acknowledged in time (<see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/>).</summary>
    public const string ReplicaAckFailedCounter = "sessionlocking.store.replica_ack_failed";

    /// <summary>Every script goes to the primary, never to a replica (a Sentinel or replica configuration lists both).</summary>
    private const CommandFlags ToPrimary = CommandFlags.DemandMaster;

    /// <summary>The middleware's meter: the store's counter stands beside the middleware's instruments.</summary>
    private const string MeterName = "SessionLocking";

    /// <summary>At most this many clean-ups of abandoned acquires run at once; beyond it, such locks expire by their TTL.</summary>
    public const int MaxCleanupsInFlight = 1_000;

    /// <summary>What the scripts put first in an error answer about a corrupt record.</summary>
    private const string CorruptMarker = "SESSIONCORRUPT";

    // Named keys first, in every script.
    private const string Keys = """
        local session_key = KEYS[1]
        local lock_key = KEYS[2]

        """;

    // Shared Lua helpers, after the keys, before each script's own ARGV names.
    // num(): a number read from Redis is trusted only when it is 1 to 16 digits and below 2^53 (so exact in Lua);
    //   tonumber alone would take '1e6', '5.5', '0x10', '-1' or ' 7'.
    // int(): numbers go to Redis as plain integer strings (tokens are microseconds, too large for Lua's %.14g).
    // read_lock() / read_session(): the validated records; false and what is wrong when corrupt (wrong type included).
    //   A session record is {timeout, fence, timeout as stored}; load_session() adds the whole hash as [4], read with
    //   the one HGETALL that the load needs anyway (read_session() reads only the two fields, for scripts that load nothing).
    //   read_lock() asks PTTL first: most calls find no lock, and PTTL answers that in one cheap call (-2) where reading
    //   the hash would also need EXISTS to tell a missing lock from one without fields.
    // check_lock() / check_session(): read_lock() / load_session(), but a corrupt record is deleted and the error answer returned.
    // slide(): the session lives for its timeout, and never shorter than a lock that is held (for a caller that does not
    //   know the lock's TTL; a script that has just taken or deleted the lock sets the expiry itself).
    // holds(): the fencing guard of every operation that brings a token.
    // publish(): the release message on the session's channel: SPUBLISH when the caller says its waiters subscribe to
    //   sharded channels (in a cluster it stays on the shard of the session's slot), else PUBLISH (broadcast to every
    //   node of a cluster). A SPUBLISH the server refuses falls back to PUBLISH, so a release never fails for it.
    // unlock(): deletes the lock and publishes the release.
    private const string Helpers = """
        local function num(v)
          if type(v) ~= 'string' or #v < 1 or #v > 16 or not string.find(v, '^%d+$') then
            return nil
          end
          local n = tonumber(v)
          if n > 9007199254740991 then
            return nil
          end
          return n
        end
        local function int(n) return string.format('%.0f', n) end
        local function server_now()
          local t = redis.call('TIME')
          return tonumber(t[1]) * 1000000 + tonumber(t[2])
        end
        local function corrupt(what, dropped)
          return redis.error_reply('SESSIONCORRUPT ' .. what .. '|' .. dropped)
        end
        local function read_lock()
          if redis.call('PTTL', lock_key) == -2 then return nil end
          local l = redis.pcall('HMGET', lock_key, 'token', 'at')
          if l.err then return false, 'lock is not a hash' end
          if not l[1] and not l[2] then return false, 'lock has no token' end
          local token = num(l[1])
          if not token or token < 1 then return false, 'lock token' end
          local at = num(l[2])
          if not at then return false, 'lock acquisition time' end
          return {token, at, l[1]}
        end
        local function check_lock()
          local lock, what = read_lock()
          if lock == false then
            redis.call('DEL', lock_key)
            return nil, corrupt(what, 'the lock')
          end
          return lock
        end
        local function session_record(raw_timeout, raw_fence)
          if not raw_timeout then return false, 'session timeout missing' end
          local timeout = num(raw_timeout)
          if not timeout or timeout < 1 then return false, 'session timeout' end
          local fence = 0
          if raw_fence then
            fence = num(raw_fence)
            if not fence then return false, 'session fence' end
          end
          return {timeout, fence, raw_timeout}
        end
        local function read_session()
          local s = redis.pcall('HMGET', session_key, 'timeout', 'fence')
          if s.err then return false, 'session is not a hash' end
          if not s[1] and redis.call('EXISTS', session_key) == 0 then return nil end
          return session_record(s[1], s[2])
        end
        local function load_session()
          local all = redis.pcall('HGETALL', session_key)
          if all.err then return false, 'session is not a hash' end
          if #all == 0 then return nil end
          local raw_timeout, raw_fence
          for i = 1, #all, 2 do
            local field = all[i]
            if field == 'timeout' then
              raw_timeout = all[i + 1]
              if raw_fence then break end
            elseif field == 'fence' then
              raw_fence = all[i + 1]
              if raw_timeout then break end
            end
          end
          local session, what = session_record(raw_timeout, raw_fence)
          if session then session[4] = all end
          return session, what
        end
        local function check_session()
          local session, what = load_session()
          if session == false then
            redis.call('DEL', session_key)
            return nil, corrupt(what, 'the session')
          end
          return session
        end
        local function slide(timeout_ms)
          local ttl = timeout_ms
          local lock_ttl = redis.call('PTTL', lock_key)
          if lock_ttl > ttl then ttl = lock_ttl end
          redis.call('PEXPIRE', session_key, int(ttl))
        end
        local function holds(token)
          local current = redis.pcall('HGET', lock_key, 'token')
          return type(current) == 'string' and current == token
        end
        local function publish(channel, message, sharded)
          if sharded then
            local sent = redis.pcall('SPUBLISH', channel, message)
            if type(sent) == 'number' then return end
          end
          redis.call('PUBLISH', channel, message)
        end
        local function unlock(channel, token, sharded)
          redis.call('DEL', lock_key)
          publish(channel, token, sharded)
        end

        """;

    private const string Prologue = Keys + Helpers;

    // The start of the scripts that bring a holder's token (release, remove, force-release): ARGV[1] the token, ARGV[2]
    // the channel, ARGV[3] '1' to publish with SPUBLISH; nothing happens (answer 0) unless that token holds the lock.
    private const string Fenced = Prologue + """
        local token = ARGV[1]
        local channel = ARGV[2]
        local sharded = ARGV[3] == '1'
        if not holds(token) then
          return 0
        end

        """;

    /// <summary>
    /// Exclusive acquire-and-load. ARGV[1] lock TTL in ms, ARGV[2] '1' to lock a missing session, ARGV[3] owner nonce.
    /// Returns {2, holderToken, lockAgeMicroseconds} when locked; {1} when missing (nothing taken);
    /// {1, token} when missing and now locked by the caller; {0, token, HGETALL session, timeoutMs} when loaded and locked;
    /// an error answer (nothing taken, the corrupt record deleted) when a stored number is not valid.
    /// The token is max(last token + 1, server time in µs): it only grows, also for a session never stored (no key
    /// is kept for it) and after a lost lock.
    /// </summary>
    public const string AcquireScript = "redis.replicate_commands()\n" + Prologue + """
        local lock_ttl_ms = ARGV[1]
        local create = ARGV[2] == '1'
        local owner = ARGV[3]
        local now = server_now()
        local lock, lock_error = check_lock()
        if lock_error then return lock_error end
        if lock then
          return {2, lock[3], now - lock[2]}
        end
        local session, session_error = check_session()
        if session_error then return session_error end
        if not session and not create then
          return {1}
        end
        local token = now
        if session and session[2] + 1 > token then token = session[2] + 1 end
        token = int(token)
        redis.call('HSET', lock_key, 'token', token, 'at', int(now), 'owner', owner)
        redis.call('PEXPIRE', lock_key, lock_ttl_ms)
        if not session then
          return {1, token}
        end
        redis.call('HSET', session_key, 'fence', token)
        redis.call('PEXPIRE', session_key, int(math.max(session[1], tonumber(lock_ttl_ms))))
        return {0, token, session[4], session[3]}
        """;

    /// <summary>
    /// Shared load, no lock. No ARGV. Returns {2, holderToken, lockAgeMicroseconds} while a writer holds the lock;
    /// {1} when missing; {0, HGETALL session, timeoutMs} when loaded (and the expiry slid); an error answer (the
    /// corrupt record deleted, nothing slid) when a stored number is not valid.
    /// </summary>
    public const string SharedScript = "redis.replicate_commands()\n" + Prologue + """
        local lock, lock_error = check_lock()
        if lock_error then return lock_error end
        if lock then
          return {2, lock[3], server_now() - lock[2]}
        end
        local session, session_error = check_session()
        if session_error then return session_error end
        if not session then
          return {1}
        end
        -- No lock is held (checked above), so the session's own timeout is its TTL.
        redis.call('PEXPIRE', session_key, session[3])
        return {0, session[4], session[3]}
        """;

    /// <summary>
    /// Fenced write-back-and-release. ARGV[1] token, ARGV[2] timeout ms, ARGV[3] channel, ARGV[4] '1' to publish with
    /// SPUBLISH (sharded), ARGV[5] '1' when the session is new, ARGV[6] n = number of removed item fields,
    /// ARGV[7 .. 6+n] removed item fields, then item field/value pairs to set (item fields carry the <c>i:</c> prefix). Deletes the removed items, sets the changed
    /// ones (never the whole session), stores timeout and fence, releases, slides, publishes. Returns 1; 0 (and
    /// changes nothing) when the token is not the current lock; 2 when a stored session was evicted or expired under
    /// its holder (the lock is released and nothing written, so no partial session appears).
    /// </summary>
    public const string WriteAndReleaseScript = Prologue + LuaHashChanges.Function + """
        local token = ARGV[1]
        local timeout_ms = ARGV[2]
        local channel = ARGV[3]
        local sharded = ARGV[4] == '1'
        local is_new = ARGV[5] == '1'
        local first = 7
        local last_removed = 6 + tonumber(ARGV[6])
        if not holds(token) then
          return 0
        end
        -- The lock is deleted below, so the session's TTL is its (new) timeout. For a stored session that PEXPIRE also
        -- says whether its hash is still there before anything is written (0: evicted or expired under its holder).
        if not is_new and redis.call('PEXPIRE', session_key, timeout_ms) == 0 then
          unlock(channel, token, sharded)
          return 2
        end
        -- A stored hash always holds timeout and fence, so removing items never empties (deletes) it: the expiry stays.
        redis.call('HSET', session_key, 'timeout', timeout_ms, 'fence', token)
        hash_changes(session_key, first, last_removed)
        if is_new then
          redis.call('PEXPIRE', session_key, timeout_ms)
        end
        unlock(channel, token, sharded)
        return 1
        """;

    /// <summary>
    /// Fenced release without writing. ARGV[1] token, ARGV[2] channel, ARGV[3] '1' to publish with SPUBLISH. Slides a
    /// stored session (not one whose timeout is corrupt); a session locked while missing and never written leaves no key. Returns 1, or 0 when the
    /// token is not the current lock.
    /// </summary>
    public const string ReleaseScript = Fenced + """
        unlock(channel, token, sharded)
        local session = read_session()
        if session then
          redis.call('PEXPIRE', session_key, session[3])
        end
        return 1
        """;

    /// <summary>
    /// Fenced remove (abandon). ARGV[1] token, ARGV[2] channel, ARGV[3] '1' to publish with SPUBLISH. Deletes the
    /// session and the lock; tokens of a re-created session keep growing by the server-time floor. Returns 1, or 0 when the token is not the current lock.
    /// </summary>
    public const string RemoveScript = Fenced + """
        redis.call('DEL', session_key)
        unlock(channel, token, sharded)
        return 1
        """;

    /// <summary>
    /// Force-release of one holder's lock (its age reached the execution timeout). ARGV[1] the holder's token,
    /// ARGV[2] channel, ARGV[3] '1' to publish with SPUBLISH. Deletes the lock only while it is still that holder's.
    /// Returns 1, or 0 when that lock was gone.
    /// </summary>
    public const string ForceReleaseScript = Fenced + """
        unlock(channel, token, sharded)
        return 1
        """;

    /// <summary>
    /// Release by owner: frees a lock that an acquire the store stopped waiting for may have taken. ARGV[1] the owner
    /// nonce of that acquire, ARGV[2] channel, ARGV[3] '1' to publish with SPUBLISH. Deletes the lock only while its
    /// owner is that nonce, and publishes.
    /// Returns 1, or 0 when no lock of that owner exists (the acquire took nothing, or it was released already).
    /// </summary>
    public const string ReleaseOwnerScript = Prologue + """
        local owner = ARGV[1]
        local channel = ARGV[2]
        local sharded = ARGV[3] == '1'
        local lock = redis.pcall('HMGET', lock_key, 'owner', 'token')
        if lock.err or lock[1] ~= owner then
          return 0
        end
        unlock(channel, lock[2] or '', sharded)
        return 1
        """;

    /// <summary>Keep-alive: slides the expiry of a stored session (not a corrupt one); no ARGV. Returns 1, or 0 when missing.</summary>
    public const string KeepAliveScript = Prologue + """
        local session = read_session()
        if session then
          slide(session[1])
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
    private static readonly Script ReleaseOwner = new("release-by-owner", ReleaseOwnerScript);
    private static readonly Script KeepAlive = new("keep-alive", KeepAliveScript);

    /// <summary>The longest a clean-up of an abandoned acquire waits for Redis.</summary>
    private static readonly TimeSpan MaxCleanupWait = TimeSpan.FromDays(1);

    /// <summary>The longest TTL sent to Redis: 100 years, far past any real timeout.</summary>
    private static readonly long MaxTtlMilliseconds = (long)TimeSpan.FromDays(36_500).TotalMilliseconds;

    private readonly RedisConnection _connection;
    private readonly RedisSessionKeys _keys;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Counter<long>? _abandonedReleased;
    private RedisReleaseChannels _channels;
    private readonly Counter<long>? _replicaAckFailed;
    private readonly int _minReplicas;
    private readonly TimeSpan _replicaAckTimeout;
    private int _cleanupsInFlight;
    private int _evictionPolicyChecked;

    /// <summary>Creates a store that connects on first use, as <paramref name="options"/> say (factory, <c>ConfigurationOptions</c> or configuration string).</summary>
    public RedisSessionStateStore(RedisSessionStoreOptions options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
        : this(new RedisConnection(options ?? throw new ArgumentNullException(nameof(options))), options, loggerFactory, meterFactory, timeProvider)
    {
    }

    /// <summary>Creates a store on a multiplexer the application owns.</summary>
    public RedisSessionStateStore(IConnectionMultiplexer multiplexer, RedisSessionStoreOptions options, ILoggerFactory? loggerFactory = null, IMeterFactory? meterFactory = null, TimeProvider? timeProvider = null)
        : this(new RedisConnection(multiplexer, (options ?? throw new ArgumentNullException(nameof(options))).OperationTimeout), options, loggerFactory, meterFactory, timeProvider)
    {
    }

    private RedisSessionStateStore(RedisConnection connection, RedisSessionStoreOptions options, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory, TimeProvider? timeProvider)
    {
        _keys = new RedisSessionKeys(options.KeyPrefix);
        _minReplicas = Math.Max(0, options.MinReplicasAcknowledged);
        _replicaAckTimeout = options.ReplicaAckTimeout;
        _connection = connection;
        _logger = (ILogger?)loggerFactory?.CreateLogger<RedisSessionStateStore>() ?? NullLogger.Instance;
        _timeProvider = timeProvider ?? TimeProvider.System;
        _channels = new RedisReleaseChannels(ReleaseChannelChoice.Auto, _logger, _timeProvider);
        _abandonedReleased = meterFactory?.Create(MeterName).CreateCounter<long>(
            AbandonedReleasedCounter,
            "{lock}",
            "Locks taken by a store call whose caller had stopped waiting for it (the client left, or the store gave up at its own timeout), released as soon as the store answered.");
        _replicaAckFailed = _minReplicas == 0 ? null : meterFactory?.Create(MeterName).CreateCounter<long>(
            ReplicaAckFailedCounter,
            "{write}",
            "Writes (write-backs, abandons, lock acquisitions) the Redis primary applied but fewer replicas than MinReplicasAcknowledged acknowledged in time; each was reported as failed.");
        connection.PreloadScripts(Acquire.Text, Shared.Text, WriteAndRelease.Text, Release.Text, Remove.Text, ForceRelease.Text, ReleaseOwner.Text, KeepAlive.Text);
    }

    /// <inheritdoc />
    public SessionStateMode Mode => SessionStateMode.Custom;

    /// <summary>Clean-ups of abandoned acquires running now (for tests).</summary>
    internal int CleanupsInFlight => Volatile.Read(ref _cleanupsInFlight);

    /// <summary>The cap on clean-ups in flight: <see cref="MaxCleanupsInFlight"/>, lower in tests.</summary>
    internal int CleanupLimit { get; init; } = MaxCleanupsInFlight;

    /// <summary>Sharded pub/sub where available (the default), or classic only (the benchmark's baseline).</summary>
    internal ReleaseChannelChoice ReleaseChannels
    {
        get;
        init
        {
            field = value;
            _channels.Dispose();
            _channels = new RedisReleaseChannels(value, _logger, _timeProvider);
        }
    }

    /// <summary>Whether releases go over sharded channels on this store's connection (connects and decides when not done yet).</summary>
    internal async ValueTask<bool> UsesShardedChannelsAsync(CancellationToken cancellationToken) =>
        await ShardedFlagAsync("subscribe", cancellationToken).ConfigureAwait(false) == "1";

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken)
    {
        var keys = _keys.For(sessionId);
        var owner = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var reply = (RedisResult[])(await EvaluateAsync(
            Acquire,
            keys,
            [Milliseconds(lockTimeout), createIfMissing ? "1" : "0", owner],
            sessionId,
            cancellationToken,
            abandoned: (database, pending, reason) => CleanUpAbandonedAcquire(database, sessionId, keys, owner, pending, reason, lockTimeout),
            durable: TookLock).ConfigureAwait(false))!;
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
        var reply = (RedisResult[])(await EvaluateAsync(Shared, keys, [], sessionId, cancellationToken).ConfigureAwait(false))!;
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
    /// <remarks>
    /// Also false when the session was stored at acquire time but is gone now (evicted or expired under its holder):
    /// writing only the changes would store part of a session, so nothing is written and the lock is released.
    /// </remarks>
    public async ValueTask<bool> WriteAndReleaseAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var keys = _keys.For(sessionId);
        var args = new RedisValue[6 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = Token(lockId);
        args[1] = Milliseconds(changes.Timeout);
        args[2] = PublishChannel(sessionId);
        args[3] = await ShardedFlagAsync(WriteAndRelease.Operation, cancellationToken).ConfigureAwait(false);
        args[4] = changes.IsNew ? "1" : "0";
        args[5] = changes.Removed.Count;
        var i = 6;
        foreach (var name in changes.Removed)
        {
            args[i++] = RedisSessionKeys.ItemPrefix + name;
        }

        foreach (var (name, value) in changes.Set)
        {
            args[i++] = RedisSessionKeys.ItemPrefix + name;
            args[i++] = value;
        }

        return (long)(await EvaluateAsync(WriteAndRelease, keys, args, sessionId, cancellationToken, durable: Wrote).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(Release, _keys.For(sessionId), [Token(lockId), PublishChannel(sessionId), await ShardedFlagAsync(Release.Operation, cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(Remove, _keys.For(sessionId), [Token(lockId), PublishChannel(sessionId), await ShardedFlagAsync(Remove.Operation, cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken, durable: Wrote).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        (long)(await EvaluateAsync(ForceRelease, _keys.For(sessionId), [Token(holderLockId), PublishChannel(sessionId), await ShardedFlagAsync(ForceRelease.Operation, cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await EvaluateAsync(KeepAlive, _keys.For(sessionId), [], sessionId, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public async ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(onReleased);
        const string Operation = "subscribe";
        var subscriber = await _connection.GetSubscriberAsync(Operation, cancellationToken).ConfigureAwait(false);
        var sharded = await _channels.IsShardedAsync(subscriber.Multiplexer, _connection.ChannelPrefix, _connection.OperationTimeout, cancellationToken).ConfigureAwait(false);
        var channel = RedisReleaseChannels.Channel(_keys.Channel(sessionId), sharded); // the client adds its channel prefix to both kinds
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
    public void Dispose()
    {
        _channels.Dispose();
        _connection.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _channels.Dispose();
        return _connection.DisposeAsync();
    }

    /// <summary>
    /// Runs a script by its SHA1 (EVALSHA); after a NOSCRIPT answer (Redis restarted or flushed its scripts) once
    /// with its text (EVAL), which loads it again. When the store stops waiting for a script that may still run
    /// (its own timeout, the caller's cancellation, a lost connection), <paramref name="abandoned"/> gets the pending call.
    /// With <see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/> set and <paramref name="durable"/> given, a
    /// <c>WAIT</c> is sent right behind the script on the same connection (pipelined: no round trip of its own), and
    /// when <paramref name="durable"/> says the answer wrote something, too few replicas in time fail the call (see
    /// <see cref="CheckReplicasAsync"/>).
    /// </summary>
    private async Task<RedisResult> EvaluateAsync(
        Script script,
        RedisKey[] keys,
        RedisValue[] args,
        string sessionId,
        CancellationToken cancellationToken,
        Action<IDatabase, Task<RedisResult>, string>? abandoned = null,
        Func<RedisResult, SessionLockId?>? durable = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(script.Operation, cancellationToken).ConfigureAwait(false);
        CheckEvictionPolicyOnce(database);
        var waits = durable is not null && _minReplicas > 0;
        Task<RedisResult>? pending = null;
        Task<RedisResult>? acknowledged = null;
        RedisResult result;
        try
        {
            try
            {
                (pending, acknowledged) = Send(database, script.Hash, keys, args, waits);
                result = await _connection.WithTimeout(pending, script.Operation, cancellationToken).ConfigureAwait(false);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                Observe(acknowledged);
                (pending, acknowledged) = Send(database, script.Text, keys, args, waits);
                result = await _connection.WithTimeout(pending, script.Operation, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex)
        {
            Observe(acknowledged);
            if (abandoned is not null && pending is not null && MayStillTakeEffect(pending))
            {
                abandoned(database, pending, ex switch
                {
                    OperationCanceledException => "the request was cancelled",
                    SessionStoreUnavailableException => "no answer within the operation timeout",
                    _ => "the client failed the call: " + ex.GetType().Name,
                });
            }

            if (ex is OperationCanceledException or SessionStoreUnavailableException)
            {
                throw;
            }

            if (ex is RedisServerException server && server.Message.StartsWith(CorruptMarker, StringComparison.Ordinal))
            {
                throw Corrupt(script.Operation, sessionId, server);
            }

            throw Unavailable(script.Operation, ex);
        }

        if (acknowledged is not null)
        {
            if (durable!(result) is { } written)
            {
                await CheckReplicasAsync(acknowledged, script.Operation, sessionId, keys, written).ConfigureAwait(false);
            }
            else
            {
                Observe(acknowledged);
            }
        }

        return result;
    }

    /// <summary>
    /// Sends the script (by SHA1 or as text) to the primary, and with <paramref name="waits"/> a <c>WAIT</c> right behind
    /// it, before either is awaited: both are written in this order on the primary's connection (the server that serves
    /// the session's keys), so the <c>WAIT</c> covers the script's writes and costs no round trip of its own.
    /// </summary>
    private (Task<RedisResult> Script, Task<RedisResult>? Wait) Send(IDatabase database, object script, RedisKey[] keys, RedisValue[] args, bool waits)
    {
        var primary = waits ? PrimaryFor(database.Multiplexer, keys[0]) : null;

        var evaluating = script is byte[] hash
            ? database.ScriptEvaluateAsync(hash, keys, args, ToPrimary)
            : database.ScriptEvaluateAsync((string)script, keys, args, ToPrimary);
        if (!waits)
        {
            return (evaluating, null);
        }

        Task<RedisResult> waiting;
        try
        {
#pragma warning disable CS0618 // StackExchange.Redis 3.x prefers a constructor with CommandFlags, which the 2.x floor lacks.
            waiting = primary is null
                ? Task.FromException<RedisResult>(new RedisConnectionException(ConnectionFailureType.UnableToConnect, "No primary serves the session's keys."))
                : primary.ExecuteAsync("WAIT", _minReplicas, (long)Math.Ceiling(_replicaAckTimeout.TotalMilliseconds));
#pragma warning restore CS0618
        }
        catch (Exception ex)
        {
            waiting = Task.FromException<RedisResult>(ex);
        }

        return (evaluating, waiting);
    }

    /// <summary>
    /// The connected primary that serves <paramref name="key"/>, chosen the way the client routes the script (the slot's
    /// primary in a cluster, else the one primary), from the client's own state: no round trip (the client's
    /// <c>IdentifyEndpoint</c> would send one, synchronously). Null when no primary is connected: the script fails too.
    /// </summary>
    private static IServer? PrimaryFor(IConnectionMultiplexer multiplexer, RedisKey key)
    {
        IServer? found = null;
        foreach (var endpoint in multiplexer.GetEndPoints(configuredOnly: false))
        {
            var server = multiplexer.GetServer(endpoint);
            if (!server.IsConnected || server.IsReplica)
            {
                continue;
            }

            if (server.ServerType == ServerType.Cluster)
            {
                return server.ClusterConfiguration?.GetBySlot(key)?.EndPoint is { } owner ? multiplexer.GetServer(owner) : null;
            }

            found ??= server;
        }

        return found;
    }

    /// <summary>
    /// The durable part of a write: the answer of the <c>WAIT</c> sent behind it must count at least
    /// <see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/> replicas. Otherwise the write, which the primary has
    /// applied, may vanish in a failover: it is logged (<c>RedisReplicaAckMissing</c>), counted
    /// (<see cref="ReplicaAckFailedCounter"/>) and reported as failed. A lock the write took (an acquire) is released
    /// first, so that no request works under a lock a failover could lose.
    /// </summary>
    private async Task CheckReplicasAsync(Task<RedisResult> acknowledged, string operation, string sessionId, RedisKey[] keys, SessionLockId written)
    {
        long count = -1;
        Exception? failure = null;
        try
        {
            count = (long)await _connection.WithTimeout(acknowledged, operation + " (WAIT for replicas)", CancellationToken.None).ConfigureAwait(false);
            if (count >= _minReplicas)
            {
                return;
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        _replicaAckFailed?.Add(1, new KeyValuePair<string, object?>("operation", operation));
        var timeoutMs = (long)Math.Ceiling(_replicaAckTimeout.TotalMilliseconds);
        RedisStoreLog.ReplicaAckMissing(_logger, failure, new SessionKey(sessionId), operation, count, _minReplicas, timeoutMs);
        if (operation == Acquire.Operation && written.Token > 0)
        {
            try
            {
                var database = await _connection.GetDatabaseAsync(Release.Operation, CancellationToken.None).ConfigureAwait(false);
                await _connection.WithTimeout(
                    database.ScriptEvaluateAsync(Release.Hash, keys, [Token(written), PublishChannel(sessionId)], ToPrimary),
                    Release.Operation,
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The lock then expires by its time to live.
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }
        }

        var what = count < 0
            ? $"the wait for its replicas failed ({failure?.GetType().Name}: {failure?.Message})"
            : $"only {count} of {_minReplicas} replicas acknowledged it within {timeoutMs} ms";
        var message = operation == Acquire.Operation
            ? $"The session store's {operation} took the lock on the Redis primary, but {what}; the lock was released (RedisSessionStoreOptions.MinReplicasAcknowledged)."
            : $"The session store's {operation} was applied on the Redis primary, but {what}: a failover could lose it, so it is reported as failed; its outcome is unknown (RedisSessionStoreOptions.MinReplicasAcknowledged).";
        throw new SessionStoreUnavailableException(message, failure) { Operation = operation };
    }

    /// <summary>The lock an acquire's answer took (<c>{0, token, …}</c> or <c>{1, token}</c>), or null when it took none.</summary>
    private static SessionLockId? TookLock(RedisResult result)
    {
        var reply = (RedisResult[])result!;
        return (int)reply[0] is 0 or 1 && reply.Length > 1 ? ReadToken(reply[1]) : null;
    }

    /// <summary>A fenced write's answer: 1 when it wrote (0: rejected, nothing written; 2: nothing written, lock released).</summary>
    private static SessionLockId? Wrote(RedisResult result) => (long)result == 1 ? new SessionLockId(0) : null;

    private static void Observe(Task? task)
    {
        if (task is not null)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// True when a script call the store gave up on may have run (or may still run) in Redis: it is still pending,
    /// it succeeded after all, or the client failed it without an answer from Redis. An error answer from Redis
    /// (<see cref="RedisServerException"/>) means the script took nothing.
    /// </summary>
    private static bool MayStillTakeEffect(Task<RedisResult> pending) =>
        !pending.IsCompleted
        || pending.IsCompletedSuccessfully
        || (pending.IsFaulted && pending.Exception!.InnerException is not RedisServerException);

    /// <summary>
    /// Makes sure an acquire the store stopped waiting for leaves no lock nobody knows, in the background: a
    /// release-by-owner is sent at once (on the same connection it queues behind the acquire, so Redis runs it
    /// after the acquire), and the acquire's late answer is observed; if it took a lock that is still that
    /// owner's, that lock is released (fenced). Both are idempotent. At most <see cref="MaxCleanupsInFlight"/> run at once.
    /// </summary>
    private void CleanUpAbandonedAcquire(IDatabase database, string sessionId, RedisKey[] keys, string owner, Task<RedisResult> pending, string reason, TimeSpan lockTimeout)
    {
        if (Interlocked.Increment(ref _cleanupsInFlight) > CleanupLimit)
        {
            Interlocked.Decrement(ref _cleanupsInFlight);
            _ = pending.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            RedisStoreLog.AbandonedCleanupsOverLimit(_logger, new SessionKey(sessionId), CleanupLimit);
            return;
        }

        Task<RedisResult> byOwner;
        try
        {
            // Sent before this method returns, so it is queued right behind the acquire; as text (EVAL), because
            // a NOSCRIPT answer to EVALSHA would send the retry only after that answer, behind later requests.
            byOwner = database.ScriptEvaluateAsync(ReleaseOwner.Text, keys, [owner, PublishChannel(sessionId), _channels.Current == true ? "1" : "0"], ToPrimary);
        }
        catch (Exception ex)
        {
            byOwner = Task.FromException<RedisResult>(ex);
        }

        // After the lock timeout a lock the acquire took has expired by itself: no clean-up waits longer (nor more than a day).
        var limit = lockTimeout < MaxCleanupWait ? lockTimeout : MaxCleanupWait;
        _ = FinishCleanUpAsync(sessionId, byOwner, pending, reason, limit);
    }

    private async Task FinishCleanUpAsync(string sessionId, Task<RedisResult> byOwner, Task<RedisResult> pending, string reason, TimeSpan limit)
    {
        try
        {
            var released = false;
            try
            {
                // Not the operation timeout: it waits behind the acquire, as long as Redis holds that one.
                released = (long)(await byOwner.WaitAsync(limit, _timeProvider).ConfigureAwait(false)) == 1;
            }
            catch (Exception ex)
            {
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }

            try
            {
                var reply = (RedisResult[])(await pending.WaitAsync(limit, _timeProvider).ConfigureAwait(false))!;
                if ((int)reply[0] is 0 or 1 && reply.Length > 1)
                {
                    released |= await ReleaseAsync(sessionId, ReadToken(reply[1]), CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not RedisServerException)
            {
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }
            catch (RedisServerException)
            {
                // Redis answered the acquire with an error: it took nothing.
            }

            if (released)
            {
                // Logged before it is counted: whoever watches the counter finds the event already written.
                RedisStoreLog.AbandonedLockReleased(_logger, new SessionKey(sessionId), reason);
                _abandonedReleased?.Add(1);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _cleanupsInFlight);
        }
    }

    /// <summary>
    /// On the first connection, warns when Redis may evict keys (any maxmemory-policy but noeviction): a lock evicted
    /// while held lets a second writer in (fencing then rejects the first one's write-back). When the policy cannot
    /// be read, one line says the check was skipped.
    /// </summary>
    private void CheckEvictionPolicyOnce(IDatabase database)
    {
        if (Volatile.Read(ref _evictionPolicyChecked) == 0 && Interlocked.Exchange(ref _evictionPolicyChecked, 1) == 0)
        {
            _ = CheckEvictionPolicyAsync(database);
        }
    }

    private async Task CheckEvictionPolicyAsync(IDatabase database)
    {
        var (policy, unknown) = await RedisEvictionPolicy.ReadAsync(database, _connection).ConfigureAwait(false);
        if (policy is null)
        {
            RedisStoreLog.EvictionPolicyUnknown(_logger, unknown!);
        }
        else if (!string.Equals(policy, "noeviction", StringComparison.OrdinalIgnoreCase))
        {
            RedisStoreLog.EvictionPolicyMayEvictLocks(_logger, policy);
        }
    }

    private SessionStoreUnavailableException Unavailable(string operation, Exception ex) =>
        new(ex is RedisServerException
                ? $"Redis answered the session store's {operation} with an error: {ex.Message}"
                : $"The session store's {operation} failed: Redis is unavailable ({ex.GetType().Name}: {ex.Message}). Each call waits at most {_connection.OperationTimeout.TotalSeconds:0.###} s (SessionState:Redis:OperationTimeout).",
            ex)
        { Operation = operation };

    /// <summary>The error answer "SESSIONCORRUPT what|dropped" of a script, as the public exception, logged.</summary>
    private SessionStoreCorruptException Corrupt(string operation, string sessionId, RedisServerException ex)
    {
        var detail = ex.Message[CorruptMarker.Length..].Trim();
        var bar = detail.IndexOf('|', StringComparison.Ordinal);
        var what = bar < 0 ? detail : detail[..bar];
        var dropped = bar < 0 ? "it" : detail[(bar + 1)..];
        RedisStoreLog.SessionCorrupt(_logger, new SessionKey(sessionId), what, dropped);
        return new SessionStoreCorruptException(
            $"The session's record in Redis is corrupt ({what}: not a plain integer, or the wrong shape), found by the store's {operation}. The store dropped {dropped} and took no lock; the next request starts afresh.",
            ex)
        {
            Operation = operation,
            What = what,
        };
    }

    private RedisValue PublishChannel(string sessionId) => _connection.ChannelPrefix + _keys.Channel(sessionId);

    /// <summary>
    /// The scripts' publish flag: "1" (SPUBLISH) when the waiters of this connection subscribe to sharded channels, "0"
    /// (PUBLISH) otherwise. Decided once per connection (see <see cref="RedisReleaseChannels"/>); the same decision
    /// chooses the channels <see cref="SubscribeAsync"/> subscribes to.
    /// </summary>
    private async ValueTask<RedisValue> ShardedFlagAsync(string operation, CancellationToken cancellationToken)
    {
        var database = await _connection.GetDatabaseAsync(operation, cancellationToken).ConfigureAwait(false);
        return await _channels.IsShardedAsync(database.Multiplexer, _connection.ChannelPrefix, _connection.OperationTimeout, cancellationToken).ConfigureAwait(false)
            ? "1"
            : "0";
    }

    private static RedisValue Token(SessionLockId lockId) => lockId.Token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span)
    {
        var ms = (long)Math.Ceiling(span.TotalMilliseconds);
        return Math.Clamp(ms, 1, MaxTtlMilliseconds).ToString(CultureInfo.InvariantCulture);
    }

    private static SessionLockId ReadToken(RedisResult value) =>
        new(long.Parse((string)value!, NumberStyles.None, CultureInfo.InvariantCulture));

    private static TimeSpan ReadAge(RedisResult microseconds) => TimeSpan.FromTicks((long)microseconds * 10);

    private static SessionData ReadData(RedisResult fields, RedisResult timeoutMilliseconds)
    {
        // The session hash holds items (fields "i:" + name) and metadata (timeout, fence): only items are returned.
        var pairs = (RedisResult[])fields!;
        var map = new Dictionary<string, byte[]>(pairs.Length / 2, StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            var field = (string)pairs[i]!;
            if (field.StartsWith(RedisSessionKeys.ItemPrefix, StringComparison.Ordinal))
            {
                map[field[RedisSessionKeys.ItemPrefix.Length..]] = (byte[])pairs[i + 1]! ?? [];
            }
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
