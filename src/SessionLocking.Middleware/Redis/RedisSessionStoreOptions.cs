namespace SessionLocking.Redis;

/// <summary>
/// Options of the Redis session store, bound from <c>SessionState:Redis</c> (see <see cref="LockedSessionOptions.Redis"/>)
/// and changed by <c>AddRedisStore(options =&gt; ...)</c>.
/// </summary>
public sealed class RedisSessionStoreOptions
{
    /// <summary>The default <see cref="KeyPrefix"/>: <c>session</c>.</summary>
    public const string DefaultKeyPrefix = "session";

    /// <summary>The largest <see cref="KeyPrefix"/>, in characters.</summary>
    public const int MaxKeyPrefixLength = 200;

    /// <summary>
    /// The StackExchange.Redis configuration string, for example <c>127.0.0.1:6379</c>,
    /// <c>redis.example:6380,ssl=true,password=...</c>, or several cluster nodes separated by commas. Options this
    /// client version does not know are ignored. Not needed when the store uses an <c>IConnectionMultiplexer</c>
    /// registered by the application (<c>AddRedisStore()</c>).
    /// </summary>
    public string? Configuration { get; set; }

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
    /// How long connecting may take (the client's <c>connectTimeout</c>, unless the configuration string sets it).
    /// The connection is made once, on first use; when Redis is down the client keeps reconnecting in the
    /// background and calls fail fast until it is back. Default 5 seconds.
    /// </summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);
}
