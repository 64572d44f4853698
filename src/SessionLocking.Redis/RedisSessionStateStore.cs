using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SessionLocking.Diagnostics;
using SessionLocking.Redis.Scripting;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// The distributed store: sessions in Redis, one Lua script (one round trip) per store operation, fenced by a
/// per-session token, lock age measured with the Redis server's clock, releases published on the session's
/// channel. The protocol is described in docs/redis-protocol.md; the scripts are <c>Scripts/redis.*.lua</c>
/// (RedisSessionStateStore.Scripts.cs), run by the <see cref="RedisScriptRunner"/> both Redis stores share.
/// </summary>
/// <remarks>
/// Every script receives the session's two keys, always in this order, both under one cluster hash tag:
/// KEYS[1] <c>{prefix:id}:session</c>, one hash holding the items (fields <c>i:</c> + exact item name) and the
/// metadata fields <c>timeout</c> (milliseconds) and <c>fence</c> (the last token issued); it exists exactly while
/// the session is stored, so eviction or expiry takes a session whole. KEYS[2] <c>{prefix:id}:lock</c>, a hash with
/// <c>token</c>, <c>at</c> (acquisition time in microseconds of the server's clock) and <c>owner</c> (a nonce the
/// store chose for the acquire call); its TTL is the lock timeout. No script builds a key.
/// </remarks>
internal sealed partial class RedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, ISessionEndStore, IAsyncDisposable, IDisposable
{
    /// <summary>The counter of locks taken by abandoned acquires and released by the store.</summary>
    public const string AbandonedReleasedCounter = RedisStoreInstruments.AbandonedReleasedCounter;

    /// <summary>The counter of writes (write-backs, abandons, acquires) the primary applied but too few replicas acknowledged in time (<see cref="RedisSessionStoreOptions.MinReplicasAcknowledged"/>).</summary>
    public const string ReplicaAckFailedCounter = RedisStoreInstruments.ReplicaAckFailedCounter;

    /// <summary>At most this many clean-ups of abandoned acquires run at once; beyond it, such locks expire by their TTL.</summary>
    public const int MaxCleanupsInFlight = RedisScriptRunner.MaxCleanupsInFlight;

    /// <summary>The longest TTL sent to Redis: 100 years, far past any real timeout.</summary>
    private static readonly long MaxTtlMilliseconds = (long)TimeSpan.FromDays(36_500).TotalMilliseconds;

    private readonly RedisConnection _connection;
    private readonly RedisSessionKeys _keys;
    private readonly ILogger _logger;
    private readonly RedisScriptRunner _runner;
    private readonly RedisReleaseNotifier _releases;

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
        _connection = connection;
        _logger = (ILogger?)loggerFactory?.CreateLogger<RedisSessionStateStore>() ?? NullLogger.Instance;
        var time = timeProvider ?? TimeProvider.System;
        connection.Logger = _logger;
        _releases = new RedisReleaseNotifier(connection, ReleaseChannelChoice.Auto, _logger, time);
        var settings = new ScriptRunnerSettings
        {
            OptionsName = nameof(RedisSessionStoreOptions),
            ConfigurationSection = "SessionState:Redis",
            MinReplicasAcknowledged = options.MinReplicasAcknowledged,
            ReplicaAckTimeout = options.ReplicaAckTimeout,
            Corrupt = Corrupt,
        };
        _runner = new RedisScriptRunner(connection, settings, All, _logger, meterFactory, time);
        _cache = options.SessionCacheSize > 0 ? new RedisSessionCache(options.SessionCacheSize) : null;
    }

    /// <inheritdoc />
    public SessionStateMode Mode => SessionStateMode.Custom;

    /// <summary>Clean-ups of abandoned acquires running now (for tests).</summary>
    internal int CleanupsInFlight => _runner.CleanupsInFlight;

    /// <summary>The cap on clean-ups in flight: <see cref="MaxCleanupsInFlight"/>, lower in tests.</summary>
    internal int CleanupLimit
    {
        get => _runner.CleanupLimit;
        init => _runner.CleanupLimit = value;
    }

    /// <summary>Sharded pub/sub where available (the default), or classic only (the benchmark's baseline).</summary>
    internal ReleaseChannelChoice ReleaseChannels
    {
        get;
        init
        {
            field = value;
            _releases.Choice = value;
        }
    }

    /// <summary>Whether releases go over sharded channels on this store's connection (connects and decides when not done yet).</summary>
    internal async ValueTask<bool> UsesShardedChannelsAsync(CancellationToken cancellationToken) =>
        await _releases.ShardedFlagAsync("subscribe", cancellationToken).ConfigureAwait(false) == "1";

    /// <inheritdoc />
    public ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, CancellationToken cancellationToken) =>
        GetExclusiveAsync(sessionId, lockTimeout, createIfMissing, holderEndpoint: null, cancellationToken);

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetExclusiveAsync(string sessionId, TimeSpan lockTimeout, bool createIfMissing, string? holderEndpoint, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        var owner = NewNonce();
        var held = Held(sessionId);
        var reply = (RedisResult[])(await _runner.RunAsync(
            Acquire.For(keys),
            keys,
            [Milliseconds(lockTimeout), createIfMissing ? "1" : "0", owner, SessionStoreResult.BoundHolder(holderEndpoint) ?? "", held?.Version ?? ""],
            sessionId,
            cancellationToken,
            lockTaking: AcquireCall(sessionId, keys, owner, lockTimeout)).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                var token = ReadToken(reply[1]);
                return SessionStoreResult.Found(Loaded(sessionId, held, reply[2], reply[3], reply[4], token.Token), token);
            case 1:
                return reply.Length > 1 ? SessionStoreResult.NotFound(ReadToken(reply[1])) : SessionStoreResult.NotFound();
            default:
                return SessionStoreResult.Locked(ReadToken(reply[1]), ReadAge(reply[2]), ReadHolder(reply));
        }
    }

    /// <inheritdoc />
    public async ValueTask<SessionStoreResult> GetSharedAsync(string sessionId, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        var held = Held(sessionId);
        var reply = (RedisResult[])(await _runner.RunAsync(Shared.For(keys), keys, [held?.Version ?? ""], sessionId, cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                return SessionStoreResult.Found(Loaded(sessionId, held, reply[1], reply[2], reply[3], lockToken: 0));
            case 1:
                return SessionStoreResult.NotFound();
            default:
                return SessionStoreResult.Locked(ReadToken(reply[1]), ReadAge(reply[2]), ReadHolder(reply));
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
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        var args = new RedisValue[6 + changes.Removed.Count + (2 * changes.Set.Count) + 4];
        args[0] = Token(lockId);
        args[1] = Milliseconds(changes.Timeout);
        args[2] = PublishChannel(sessionId);
        args[3] = await ShardedFlagAsync(WriteAndRelease.Operation, cancellationToken).ConfigureAwait(false);
        args[4] = changes.IsNew ? "1" : "0";
        var i = PutChanges(args, 5, changes);

        // The new version and the fence it holds at, set with the items (redis.cached.lua).
        var version = NewVersion();
        args[i++] = VersionField;
        args[i++] = version;
        args[i++] = VersionFenceField;
        args[i] = args[0];
        var wrote = false;
        try
        {
            wrote = (long)(await _runner.RunAsync(WriteAndRelease.For(keys), keys, args, sessionId, cancellationToken, wrote: Wrote).ConfigureAwait(false)) == 1;
            return wrote;
        }
        finally
        {
            Written(sessionId, lockId, changes, version, wrote);
        }
    }

    /// <summary>
    /// Puts a write's changes into a script's arguments as <c>shared.hash_changes</c> reads them: at
    /// <paramref name="at"/> the number of removed items, then their fields, then the field/value pairs to set.
    /// Returns the index after the last one.
    /// </summary>
    private static int PutChanges(RedisValue[] args, int at, SessionChanges changes)
    {
        args[at++] = changes.Removed.Count;
        foreach (var name in changes.Removed)
        {
            args[at++] = RedisSessionKeys.ItemPrefix + name;
        }

        foreach (var (name, value) in changes.Set)
        {
            args[at++] = RedisSessionKeys.ItemPrefix + name;
            args[at++] = value;
        }

        return at;
    }

    /// <inheritdoc />
    public ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        UnlockAsync(Release, sessionId, lockId, wrote: null, cancellationToken);

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken)
    {
        _cache?.Remove(sessionId);
        return UnlockAsync(Remove, sessionId, lockId, Wrote, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken) =>
        UnlockAsync(ForceRelease, sessionId, holderLockId, wrote: null, cancellationToken);

    /// <summary>
    /// A fenced script that ends the lock <paramref name="lockId"/> (release, remove, force-release): its token, the
    /// session's release channel and how to publish on it; true when the lock was that token's.
    /// </summary>
    private async ValueTask<bool> UnlockAsync(RequestScript script, string sessionId, SessionLockId lockId, Func<RedisResult, bool>? wrote, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        RedisValue[] args = [Token(lockId), PublishChannel(sessionId), await ShardedFlagAsync(script.Operation, cancellationToken).ConfigureAwait(false)];
        return (long)(await _runner.RunAsync(script.For(keys), keys, args, sessionId, cancellationToken, wrote: wrote).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken)
    {
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        await _runner.RunAsync(KeepAlive.For(keys), keys, [], sessionId, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken) =>
        _releases.SubscribeAsync(_keys.Channel(sessionId), onReleased, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        _releases.Dispose();
        _connection.Dispose();
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _releases.Dispose();
        return _connection.DisposeAsync();
    }

    /// <summary>
    /// The acquire as a lock-taking call: given up on, its lock is freed by its owner nonce (queued right behind it)
    /// and, when its late answer took one, by the token (fenced).
    /// </summary>
    private LockTakingCall AcquireCall(string sessionId, RedisKey[] keys, string owner, TimeSpan lockTimeout) => new(
        ReleaseOwner.For(keys),
        [owner, PublishChannel(sessionId), _releases.CurrentShardedFlag],
        TookLock,
        token => ReleaseAsync(sessionId, token, CancellationToken.None),
        lockTimeout);

    /// <summary>The lock an acquire's answer took (<c>{0, token, …}</c> or <c>{1, token}</c>), or null when it took none.</summary>
    private static SessionLockId? TookLock(RedisResult result)
    {
        var reply = (RedisResult[])result!;
        return (int)reply[0] is 0 or 1 && reply.Length > 1 ? ReadToken(reply[1]) : null;
    }

    /// <summary>A fenced write's answer: 1 when it wrote (0: rejected, nothing written; 2: nothing written, lock released).</summary>
    private static bool Wrote(RedisResult result) => (long)result == 1;

    /// <summary>The error answer "SESSIONCORRUPT what|dropped" of a script, as the public exception, logged.</summary>
    private SessionStoreCorruptException Corrupt(string operation, string sessionId, string what, string dropped, RedisServerException ex)
    {
        RedisStoreLog.SessionCorrupt(_logger, new SessionKey(sessionId), what, dropped);
        return new SessionStoreCorruptException(
            $"The session's record in Redis is corrupt ({what}: not a plain integer, or the wrong shape), found by the store's {operation}. The store dropped {dropped} and took no lock; the next request starts afresh.",
            ex)
        {
            Operation = operation,
            What = what,
        };
    }

    private RedisValue PublishChannel(string sessionId) => _releases.PublishChannel(_keys.Channel(sessionId));

    private ValueTask<RedisValue> ShardedFlagAsync(string operation, CancellationToken cancellationToken) =>
        _releases.ShardedFlagAsync(operation, cancellationToken);

    private static RedisValue Token(SessionLockId lockId) => lockId.Token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span)
    {
        var ms = (long)Math.Ceiling(span.TotalMilliseconds);
        return Math.Clamp(ms, 1, MaxTtlMilliseconds).ToString(CultureInfo.InvariantCulture);
    }

    private static SessionLockId ReadToken(RedisResult value) =>
        new(long.Parse((string)value!, NumberStyles.None, CultureInfo.InvariantCulture));

    /// <summary>The holder's endpoint in a Locked answer (its fourth element; absent or empty: unknown).</summary>
    private static string? ReadHolder(RedisResult[] reply) => reply.Length > 3 ? (string?)reply[3] : null;

    private static TimeSpan ReadAge(RedisResult microseconds) => TimeSpan.FromTicks((long)microseconds * 10);

    private static Dictionary<string, byte[]> ReadItems(RedisResult fields)
    {
        // The session hash holds items (fields "i:" + name) and metadata (timeout, fence, ver, verf): only items are returned.
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

        return map;
    }

    private static TimeSpan ReadTimeout(RedisResult timeoutMilliseconds) =>
        TimeSpan.FromMilliseconds(long.Parse((string)timeoutMilliseconds!, NumberStyles.None, CultureInfo.InvariantCulture));
}
