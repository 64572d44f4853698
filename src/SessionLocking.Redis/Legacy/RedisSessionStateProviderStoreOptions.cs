using StackExchange.Redis;

namespace SessionLocking;

/// <summary>
/// Options of the store that shares the sessions and locks of a classic ASP.NET application running
/// Microsoft.Web.RedisSessionStateProvider (<c>AddRedisSessionStateProviderStore</c>). See docs/legacy-redis.md.
/// </summary>
public sealed class RedisSessionStateProviderStoreOptions
{
    /// <summary>The name configuration uses for this store: <c>SessionState:Mode=RedisSessionStateProvider</c> (see <c>AddRedisSessionStateProviderStoreMode</c>).</summary>
    public const string Mode = "RedisSessionStateProvider";

    /// <summary>The configuration section these options are bound from: <c>SessionState:RedisSessionStateProvider</c>.</summary>
    public const string ConfigurationSection = "SessionState:RedisSessionStateProvider";

    /// <summary>
    /// The StackExchange.Redis configuration string of the Redis the classic application uses, for example
    /// <c>redis:6380,ssl=true,password=...</c> (the provider's <c>connectionString</c>). When neither this nor
    /// <see cref="ConfigurationOptions"/> is set, the store uses the <see cref="IConnectionMultiplexer"/> the
    /// application registered in DI.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>The client's configuration as an object (wins over <see cref="Configuration"/>); the store connects with a copy.</summary>
    public ConfigurationOptions? ConfigurationOptions { get; set; }

    /// <summary>
    /// The provider's <c>applicationName</c> attribute: every key is <c>{ApplicationName_sessionid}_...</c>. Required;
    /// it must not contain <c>{</c>, <c>}</c> or control characters.
    /// </summary>
    public string? ApplicationName { get; set; }

    /// <summary>Which provider generation the classic side runs (its key layout and data format). Default <see cref="RedisSessionStateProviderFormat.V5"/>.</summary>
    public RedisSessionStateProviderFormat Format { get; set; } = RedisSessionStateProviderFormat.V5;

    /// <summary>
    /// The local time zone of the classic web servers. The provider's lock value is <c>DateTime.Now.Ticks</c> of the
    /// server that took the lock, and a lock's age is that server's local time minus it: this store reads the age of
    /// their locks, and writes its own lock values, in this time zone (by its daylight-saving rules: ages stay right
    /// across the switches), so that both sides agree on when a lock is stale. Default <see cref="TimeZoneInfo.Local"/>.
    /// </summary>
    public TimeZoneInfo LockTimeZone { get; set; } = TimeZoneInfo.Local;

    /// <summary>
    /// The session timeout used when a stored session has no timeout key (the provider then uses its own
    /// <c>sessionState timeout</c>). Default 20 minutes.
    /// </summary>
    public TimeSpan DefaultSessionTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>
    /// <see cref="RedisSessionStateProviderFormat.V4"/> only: how one item's value becomes the bytes of its hash field,
    /// the counterpart of the provider's <c>redisSerializerType</c>. Default (null): UTF-8 JSON, which the classic side
    /// reads with a JSON <c>ISerializer</c> (see docs/legacy-redis.md).
    /// </summary>
    public ISessionValueSerializer? ValueSerializer { get; set; }

    /// <summary>How long one Redis call may take before it fails with <c>SessionStoreUnavailableException</c>. Default 5 seconds.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long connecting may take. Default 5 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Durable writes, as <see cref="Redis.RedisSessionStoreOptions.MinReplicasAcknowledged"/>: after every write-back
    /// (and abandon) and every acquire that takes a lock, the store waits (Redis <c>WAIT</c>, pipelined behind the
    /// script) until at least this many replicas have it; when fewer acknowledge within <see cref="ReplicaAckTimeout"/>
    /// the call fails with <see cref="Redis.SessionStoreUnavailableException"/> (an acquire releases the lock it took
    /// first). 0 (the default) turns it off. The classic provider's own writes are not covered.
    /// </summary>
    public int MinReplicasAcknowledged { get; set; }

    /// <summary>
    /// How long Redis waits for the replicas of <see cref="MinReplicasAcknowledged"/> (the timeout of <c>WAIT</c>). Must
    /// be shorter than <see cref="OperationTimeout"/>. Default 1 second.
    /// </summary>
    public TimeSpan ReplicaAckTimeout { get; set; } = TimeSpan.FromSeconds(1);

    private readonly List<LegacyTypeMapping> _legacyTypes = [];

    /// <summary>
    /// Maps a legacy type that the classic application stores in session with BinaryFormatter (a <c>[Serializable]</c>
    /// class, struct or enum) to <typeparamref name="T"/>, so that its items read here as <typeparamref name="T"/> and are
    /// written back in its format (docs/legacy-redis.md). The name is the legacy type's namespace and name and its
    /// assembly's name, for example <c>"Shop.Models.Cart, Shop"</c>; the assembly's version, culture and key are ignored.
    /// Every legacy type in an item's graph must be mapped (the BCL's primitives, <c>string</c>, <c>DateTime</c>,
    /// <c>decimal</c>, <c>Guid</c>, <c>TimeSpan</c>, nullables, arrays, <c>List&lt;T&gt;</c> and <c>Dictionary&lt;TKey,TValue&gt;</c>
    /// are built in); a mapped type needs no <c>AllowType</c>. Nothing that is not mapped is ever created from the data.
    /// </summary>
    /// <typeparam name="T">The .NET type the legacy type becomes.</typeparam>
    /// <param name="legacyTypeName">The legacy type's assembly-qualified name.</param>
    /// <returns>The mapping, to name members whose names differ (<see cref="LegacyTypeMapping.MapMember"/>).</returns>
    public LegacyTypeMapping MapLegacyType<T>(string legacyTypeName)
    {
        var mapping = new LegacyTypeMapping(legacyTypeName, typeof(T));
        _legacyTypes.Add(mapping);
        return mapping;
    }

    /// <summary>The legacy types mapped with <see cref="MapLegacyType{T}(string)"/>.</summary>
    public IReadOnlyList<LegacyTypeMapping> LegacyTypes => _legacyTypes;

    /// <summary>The largest BinaryFormatter item (bytes) the store reads; a larger one fails to read, naming it. Default 1 MiB.</summary>
    public int MaxLegacyObjectBytes { get; set; } = 1024 * 1024;

    /// <summary>How deep the objects of one BinaryFormatter item may nest (1 to 1,000). Default 64.</summary>
    public int MaxLegacyObjectDepth { get; set; } = 64;

    /// <summary>How many array, list and dictionary elements one BinaryFormatter item may declare in all. Default 100,000.</summary>
    public int MaxLegacyObjectElements { get; set; } = 100_000;
}
