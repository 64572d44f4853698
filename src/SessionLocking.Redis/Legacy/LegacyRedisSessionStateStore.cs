using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using SessionLocking.Diagnostics;
using SessionLocking.Redis.Scripting;
using StackExchange.Redis;

namespace SessionLocking.Redis.Legacy;

/// <summary>
/// Shares the sessions and locks of a classic ASP.NET application that runs Microsoft.Web.RedisSessionStateProvider
/// (docs/legacy-redis.md): the provider's keys, its lock (SETNX of local-time ticks with the execution timeout as TTL,
/// released only by the holder's value), its data format (V5: one binary <c>SessionStateItemCollection</c>; V4: one hash
/// field per item) and its sliding expiry. Our lock values are local ticks in <see cref="RedisSessionStateProviderStoreOptions.LockTimeZone"/>,
/// unique per acquisition, so the classic module computes their age correctly and every write-back is fenced by them.
/// Releases of ours are published on a channel of ours, sharded where server and client have it (the classic side
/// publishes nothing: behind a classic holder, waiters poll).
/// </summary>
/// <remarks>
/// The scripts, and what each key and argument is, are in <see cref="LegacyScripts"/> (<c>Scripts/legacy.*.lua</c>);
/// they run on the <see cref="RedisScriptRunner"/> the Redis store uses too: preloaded, by EVALSHA, with durable writes
/// (<see cref="RedisSessionStateProviderStoreOptions.MinReplicasAcknowledged"/>) and the clean-up of an acquire the
/// store gave up on.
/// </remarks>
internal sealed class LegacyRedisSessionStateStore : ISessionStateStore, ISessionReleaseNotifications, IAsyncDisposable, IDisposable
{
    private readonly RedisConnection _connection;
    private readonly LegacyLockClock _clock;
    private readonly ILogger _logger;
    private readonly string _application;
    private readonly bool _v5;
    private readonly RedisValue _defaultTimeout;
    private readonly LegacyScripts _scripts;
    private readonly RedisScriptRunner _runner;
    private readonly RedisReleaseNotifier _releases;

    /// <summary>
    /// V5: the collection each held lock's acquire loaded, by session and lock value, for its write-back (nobody else
    /// writes the collection while the lock is ours, and the write is fenced by the lock). Bounded: past the bound an
    /// acquire remembers nothing and its write-back reads the collection again.
    /// </summary>
    private readonly ConcurrentDictionary<(string Session, long Token), List<KeyValuePair<string, byte[]>>> _loaded = new();
    private const int MaxLoaded = 10_000;

    public LegacyRedisSessionStateStore(RedisSessionStateProviderStoreOptions options, IConnectionMultiplexer? multiplexer, TimeProvider? timeProvider, ILoggerFactory? loggerFactory, IMeterFactory? meterFactory = null)
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

        var time = timeProvider ?? TimeProvider.System;
        _connection.Logger = _logger;
        _releases = new RedisReleaseNotifier(_connection, ReleaseChannelChoice.Auto, _logger, time);
        var settings = new ScriptRunnerSettings
        {
            OptionsName = nameof(RedisSessionStateProviderStoreOptions),
            ConfigurationSection = "SessionState:RedisSessionStateProvider",
            MinReplicasAcknowledged = options.MinReplicasAcknowledged,
            ReplicaAckTimeout = options.ReplicaAckTimeout,
            Corrupt = (operation, sessionId, what, dropped, ex) => Corrupt(operation, sessionId, what, dropped, ex),
        };
        _runner = new RedisScriptRunner(_connection, settings, _scripts.All, _logger, meterFactory, time);
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
        var reply = (RedisResult[])(await _runner.RunAsync(
            _scripts.Acquire,
            keys,
            [_defaultTimeout, value, Milliseconds(lockTimeout), createIfMissing ? "1" : "0"],
            sessionId,
            cancellationToken,
            lockTaking: AcquireCall(sessionId, value, lockTimeout)).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                var token = new SessionLockId(long.Parse((string)reply[1]!, NumberStyles.None, CultureInfo.InvariantCulture));
                SessionData data;
                bool uninitialized;
                try
                {
                    data = ReadData(reply[2], reply[3], out uninitialized, out var collection);
                    if (collection is not null && !uninitialized && _loaded.Count < MaxLoaded)
                    {
                        _loaded[(sessionId, token.Token)] = collection;
                    }
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
        var reply = (RedisResult[])(await _runner.RunAsync(_scripts.Shared, KeysOf(sessionId), [_defaultTimeout], sessionId, cancellationToken).ConfigureAwait(false))!;
        switch ((int)reply[0])
        {
            case 0:
                try
                {
                    var data = ReadData(reply[1], reply[2], out var uninitialized, out _);
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
    /// V5 stores the whole collection: the changes are applied to the one the acquire loaded (nobody else may write it
    /// while the lock is ours; untouched items keep their bytes), and it is written back only if the lock is still ours,
    /// in one script. An acquire that remembered nothing (see <see cref="_loaded"/>) has it read back under the lock first. V4 writes only the changes (HDEL, HSET), as the provider does. Both remove the
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
            if (_loaded.TryRemove((sessionId, lockId.Token), out var loaded) && !changes.IsNew)
            {
                stored = loaded;
            }
            else if (!changes.IsNew)
            {
                var fetched = (RedisResult[])(await _runner.RunAsync(_scripts.Fetch, keys, [_defaultTimeout, value], sessionId, cancellationToken).ConfigureAwait(false))!;
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
            return (long)(await _runner.RunAsync(
                _scripts.CommitV5,
                keys,
                [_defaultTimeout, value, seconds, PublishChannel(sessionId), await ShardedFlagAsync(cancellationToken).ConfigureAwait(false), collection, changes.IsNew ? "1" : "0"],
                sessionId,
                cancellationToken,
                wrote: Wrote).ConfigureAwait(false)) == 1;
        }

        var args = new RedisValue[7 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = _defaultTimeout;
        args[1] = value;
        args[2] = seconds;
        args[3] = PublishChannel(sessionId);
        args[4] = await ShardedFlagAsync(cancellationToken).ConfigureAwait(false);
        args[5] = changes.IsNew ? "1" : "0";
        args[6] = changes.Removed.Count;
        var i = 7;
        foreach (var name in changes.Removed)
        {
            args[i++] = name;
        }

        foreach (var (name, bytes) in changes.Set)
        {
            args[i++] = name;
            args[i++] = bytes;
        }

        return (long)(await _runner.RunAsync(_scripts.CommitV4, keys, args, sessionId, cancellationToken, wrote: Wrote).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask<bool> ReleaseAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        Forget(sessionId, lockId) && (long)(await _runner.RunAsync(_scripts.Release, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId), await ShardedFlagAsync(cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> RemoveAsync(string sessionId, SessionLockId lockId, CancellationToken cancellationToken) =>
        Forget(sessionId, lockId) && (long)(await _runner.RunAsync(_scripts.Remove, KeysOf(sessionId), [_defaultTimeout, Value(lockId.Token), PublishChannel(sessionId), await ShardedFlagAsync(cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken, wrote: Wrote).ConfigureAwait(false)) == 1;

    /// <inheritdoc />
    public async ValueTask<bool> ForceReleaseAsync(string sessionId, SessionLockId holderLockId, CancellationToken cancellationToken)
    {
        Forget(sessionId, holderLockId);
        RedisValue holder = holderLockId.Token == LegacyLockClock.NonNumericHolder ? string.Empty : Value(holderLockId.Token);
        return (long)(await _runner.RunAsync(_scripts.ForceRelease, KeysOf(sessionId), [_defaultTimeout, holder, PublishChannel(sessionId), await ShardedFlagAsync(cancellationToken).ConfigureAwait(false)], sessionId, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <inheritdoc />
    public async ValueTask KeepAliveAsync(string sessionId, CancellationToken cancellationToken) =>
        await _runner.RunAsync(_scripts.KeepAlive, KeysOf(sessionId), [_defaultTimeout], sessionId, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public ValueTask<IAsyncDisposable> SubscribeAsync(string sessionId, Action onReleased, CancellationToken cancellationToken) =>
        _releases.SubscribeAsync(Channel(sessionId), onReleased, cancellationToken);

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
    /// The provider's lock value is a timestamp it shares with classic servers and cannot carry an endpoint, so a holder
    /// is only ever known as this.
    /// </summary>
    internal const string LegacyHolder = "a legacy request";

    private SessionStoreResult Locked(string? holder)
    {
        var token = LegacyLockClock.TokenOf(holder);
        return SessionStoreResult.Locked(new SessionLockId(token), _clock.AgeOf(token), LegacyHolder);
    }

    /// <summary>The loaded session, without the provider's <c>SessionStateActions</c> item; <paramref name="uninitialized"/> when that item marked it.</summary>
    private SessionData ReadData(RedisResult data, RedisResult timeoutSeconds, out bool uninitialized, out List<KeyValuePair<string, byte[]>>? collection)
    {
        var timeout = TimeSpan.FromSeconds((long)timeoutSeconds);
        var items = new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase);
        collection = null;
        if (_v5)
        {
            collection = ClassicItemCollection.Read((byte[]?)data ?? throw new FormatException("no collection"));
            foreach (var (name, value) in collection)
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

    /// <summary>
    /// The acquire as a lock-taking call: given up on, a release fenced by the value it proposed is queued right behind
    /// it on the same connection (the value is unique to this call, so that release frees only what it took).
    /// </summary>
    private LockTakingCall AcquireCall(string sessionId, RedisValue value, TimeSpan lockTimeout) => new(
        _scripts.Release,
        [_defaultTimeout, value, PublishChannel(sessionId), _releases.CurrentShardedFlag],
        TookLock,
        token => ReleaseAsync(sessionId, token, CancellationToken.None),
        lockTimeout);

    /// <summary>The lock an acquire's answer took (<c>{0, value, …}</c> or <c>{1, value}</c>), or null when it took none.</summary>
    private static SessionLockId? TookLock(RedisResult result)
    {
        var reply = (RedisResult[])result!;
        return (int)reply[0] is 0 or 1 && reply.Length > 1
            ? new SessionLockId(long.Parse((string)reply[1]!, NumberStyles.None, CultureInfo.InvariantCulture))
            : null;
    }

    /// <summary>A fenced write's answer: 1 when it wrote (0: not ours; 2: nothing written, lock released).</summary>
    private static bool Wrote(RedisResult result) => (long)result == 1;

    /// <summary>Drops what the acquire of <paramref name="lockId"/> loaded (always true, to chain before the call).</summary>
    private bool Forget(string sessionId, SessionLockId lockId)
    {
        _loaded.TryRemove((sessionId, lockId.Token), out _);
        return true;
    }

    private ValueTask<RedisValue> ShardedFlagAsync(CancellationToken cancellationToken) =>
        _releases.ShardedFlagAsync("release", cancellationToken);

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

    private RedisValue PublishChannel(string sessionId) => _releases.PublishChannel(Channel(sessionId));

    private static RedisValue Value(long token) => token.ToString(CultureInfo.InvariantCulture);

    private static RedisValue Seconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalSeconds), 1, int.MaxValue)).ToString(CultureInfo.InvariantCulture);

    private static RedisValue Milliseconds(TimeSpan span) =>
        ((long)Math.Clamp(Math.Ceiling(span.TotalMilliseconds), 1, (long)int.MaxValue * 1000)).ToString(CultureInfo.InvariantCulture);
}
