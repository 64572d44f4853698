using System.Collections.ObjectModel;
using System.Globalization;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// Cached loads (docs/redis-protocol.md): a load sends the version of the session this server keeps, Redis answers
/// without items while it is still the stored one; a write-back gives the session a new version in its own script and
/// keeps what it wrote (the items its acquire loaded, with the changes applied).
/// </summary>
internal sealed partial class RedisSessionStateStore
{
    /// <summary>The version field of the session hash, sent among a write-back's pairs (redis.cached.lua).</summary>
    private static readonly RedisValue VersionField = "ver";

    /// <summary>The fence at which the version is known to hold (redis.cached.lua).</summary>
    private static readonly RedisValue VersionFenceField = "verf";

    /// <summary>
    /// This process's part of every version it writes: 64 random bits, so two servers (or this one after a restart)
    /// never write the same version for other contents, nor does a replica that lost a write hand back a version a
    /// server keeps other contents for.
    /// </summary>
    private static readonly string VersionPrefix = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + ":";

    private static readonly ReadOnlyDictionary<string, byte[]> NoItems = new(new Dictionary<string, byte[]>(StringComparer.OrdinalIgnoreCase));

    private static long _versionCounter;

    /// <summary>The kept sessions, or null when <see cref="RedisSessionStoreOptions.SessionCacheSize"/> is 0.</summary>
    private RedisSessionCache? _cache;

    /// <summary>
    /// The kept sessions; null when off. Tests give two stores one cache: one server whose connection moved to
    /// another Redis (a promoted replica) keeps what it kept.
    /// </summary>
    internal RedisSessionCache? Cache
    {
        get => _cache;
        init => _cache = value;
    }

    /// <summary>Loads answered from the kept copy (for tests and the benchmark).</summary>
    internal long CachedLoads => Interlocked.Read(ref _cachedLoads);

    private long _cachedLoads;

    /// <summary>The kept entry of a session whose version a load can send, or null.</summary>
    private RedisCachedSession? Held(string sessionId) => _cache?.Get(sessionId) is { Version: not null } entry ? entry : null;

    /// <summary>
    /// The items of a loaded answer: the kept ones when Redis sent none (the held version is current), else the sent
    /// ones, kept under the answer's version (or only as the base of this lock's write-back when it has none).
    /// </summary>
    private SessionData Loaded(string sessionId, RedisCachedSession? held, RedisResult fields, RedisResult timeoutMilliseconds, RedisResult version, long lockToken)
    {
        var timeout = ReadTimeout(timeoutMilliseconds);
        var current = (string?)version;
        if (held is not null && ((RedisResult[])fields!).Length == 0 && current == held.Version)
        {
            Interlocked.Increment(ref _cachedLoads);
            if (lockToken != 0)
            {
                _cache!.Put(sessionId, held with { LockToken = lockToken });
            }

            return new SessionData(held.Items, timeout);
        }

        var items = new ReadOnlyDictionary<string, byte[]>(ReadItems(fields));
        if (_cache is not null && (lockToken != 0 || !string.IsNullOrEmpty(current)))
        {
            _cache.Put(sessionId, new RedisCachedSession(sessionId, string.IsNullOrEmpty(current) ? null : current, items, lockToken, RedisSessionCache.Size(items)));
        }

        return new SessionData(items, timeout);
    }

    /// <summary>A version no server wrote before.</summary>
    private static string NewVersion() => NewNonce();

    /// <summary>
    /// A value no server made before (a version, an acquire's owner nonce): the process's random part and a counter.
    /// Cheaper than random bytes per call (OpenSSL's generator, about 4 % of the client's CPU on the write path).
    /// </summary>
    private static string NewNonce() =>
        VersionPrefix + Interlocked.Increment(ref _versionCounter).ToString("x", CultureInfo.InvariantCulture);

    /// <summary>
    /// After a write-back: keeps what it stored when the items before it are known (loaded under the same lock, or a
    /// new session), else forgets the session (the next load reads it whole).
    /// </summary>
    private void Written(string sessionId, SessionLockId lockId, SessionChanges changes, string version, bool wrote)
    {
        if (_cache is null)
        {
            return;
        }

        var before = changes.IsNew ? NoItems : _cache.Get(sessionId) is { } entry && entry.LockToken == lockId.Token ? entry.Items : null;
        if (!wrote || before is null)
        {
            _cache.Remove(sessionId);
            return;
        }

        var items = new Dictionary<string, byte[]>(before, StringComparer.OrdinalIgnoreCase);
        foreach (var name in changes.Removed)
        {
            items.Remove(name);
        }

        foreach (var (name, value) in changes.Set)
        {
            // Removed first, so that a name whose spelling changed is kept as written. A copy: the caller's array is
            // not ours to hand to later requests.
            items.Remove(name);
            items[name] = (byte[])value.Clone();
        }

        var kept = new ReadOnlyDictionary<string, byte[]>(items);
        _cache.Put(sessionId, new RedisCachedSession(sessionId, version, kept, lockId.Token, RedisSessionCache.Size(kept)));
    }
}
