using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// Options of the Redis session store, bound from <c>SessionState:Redis</c> and changed by
/// <c>AddRedisStore(options =&gt; ...)</c>.
/// </summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>The configuration section the options bind from: <c>SessionState:Redis</c>.</summary>
    public const string ConfigurationSection = "SessionState:Redis";

    /// <summary>The name configuration uses for this store: <c>SessionState:Mode=Redis</c> (see <c>AddRedisStoreMode</c>).</summary>
    public const string Mode = "Redis";

    /// <summary>The default <see cref="KeyPrefix"/>: <c>session</c>.</summary>
    public const string DefaultKeyPrefix = "session";

    /// <summary>The largest <see cref="KeyPrefix"/>, in characters.</summary>
    public const int MaxKeyPrefixLength = 200;

    /// <summary>
    /// The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>,
    /// <c>redis.example:6380,ssl=true,password=...</c>, or several cluster nodes separated by commas. An option the
    /// client does not know fails start-up. Not used when <see cref="ConnectionMultiplexerFactory"/> or
    /// <see cref="ConfigurationOptions"/> is set, nor when the store uses an <see cref="IConnectionMultiplexer"/>
    /// registered by the application (<c>AddRedisStore()</c>).
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>
    /// The client's configuration as an object (wins over <see cref="Configuration"/>). The store connects with a copy,
    /// and disposes the multiplexer it made. In the copy, <c>AbortOnConnectFail</c> is always false (the store keeps
    /// reconnecting), and <see cref="ConnectTimeout"/> and <see cref="OperationTimeout"/> become the client's
    /// <c>ConnectTimeout</c> and <c>AsyncTimeout</c> unless these options set them.
    /// </summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>
    /// Makes the multiplexer the store uses (wins over <see cref="ConfigurationOptions"/> and <see cref="Configuration"/>),
    /// called once, on first use; called again only when it failed. The multiplexer belongs to the application: the
    /// store never disposes it, and does not change its options (its timeouts are the application's; the store's
    /// <see cref="OperationTimeout"/> still bounds every call).
    /// </summary>
    public Func<Task<IConnectionMultiplexer>>? ConnectionMultiplexerFactory { get; set; }

    /// <summary>
    /// Starts every key and channel, so that several applications can share one Redis (classic
    /// <c>applicationName</c>). Keys look like <c>{prefix:sessionid}:session</c>. It must not contain <c>{</c> or
    /// <c>}</c> (they would break the cluster hash tag) nor control characters, and has at most
    /// <see cref="MaxKeyPrefixLength"/> characters. Default <see cref="DefaultKeyPrefix"/>.
    /// </summary>
    public string KeyPrefix { get; set; } = DefaultKeyPrefix;

    /// <summary>
    /// How long one Redis call may take before it fails with <see cref="SessionStoreUnavailableException"/>
    /// (classic <c>stateNetworkTimeout</c>). Default 5 seconds.
    /// </summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Durable writes: after every write-back (and abandon) and every acquire that takes a lock, the store waits until at
    /// least this many replicas have it (Redis <c>WAIT</c>, pipelined right behind the script on the same connection, so
    /// it adds the replica's acknowledgement time and no round trip of its own). When fewer acknowledge within
    /// <see cref="ReplicaAckTimeout"/>, the call fails with <see cref="SessionStoreUnavailableException"/>: a write-back
    /// then fails the request (500: its outcome is unknown, since the primary did apply it), an acquire releases the
    /// lock it took and answers 503. So a primary that fails over to a replica loses no write-back a client saw succeed,
    /// and no lock a request entered with. 0 (the default) turns it off: replication stays asynchronous, as Redis is.
    /// Set it only when the primary has that many replicas (a standalone Redis with this set fails every write).
    /// </summary>
    public int MinReplicasAcknowledged { get; set; }

    /// <summary>
    /// How long Redis waits for the replicas of <see cref="MinReplicasAcknowledged"/> (the timeout of <c>WAIT</c>). Must
    /// be shorter than <see cref="OperationTimeout"/>. While a <c>WAIT</c> is pending, later commands on the same
    /// connection wait behind it: keep it short. Default 1 second.
    /// </summary>
    public TimeSpan ReplicaAckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long connecting may take (the client's <c>connectTimeout</c>, unless the configuration string sets it).
    /// The connection is made once, on first use; when Redis is down the client keeps reconnecting in the
    /// background and calls fail fast until it is back. Default 5 seconds.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The default <see cref="SessionCacheSize"/>: 64 MiB.</summary>
    public const long DefaultSessionCacheSize = 64L * 1024 * 1024;

    /// <summary>
    /// Cached loads: the most bytes of sessions each server keeps (the last version of each session it loaded or wrote,
    /// the least recently used dropped first), so that loading a session that has not changed since returns no items
    /// from Redis (one round trip still, a few bytes instead of the whole session). Every write-back, on any server,
    /// gives the session a new version in the same script, so a kept copy is used only while it is the stored one
    /// (docs/redis-protocol.md, "Cached loads"). 0 turns it off (writes still version the session, for the servers
    /// that keep copies). Default <see cref="DefaultSessionCacheSize"/>.
    /// </summary>
    public long SessionCacheSize { get; set; } = DefaultSessionCacheSize;
}
