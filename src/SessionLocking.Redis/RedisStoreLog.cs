using Microsoft.Extensions.Logging;
using SessionLocking.Diagnostics;

namespace SessionLocking.Redis;

/// <summary>Log events of the Redis store (event ids 101–107, 110–112 and 140, listed in docs/redis-protocol.md) and of the RedisSessionStateProvider store (125–129, docs/legacy-redis.md).</summary>
internal static partial class RedisStoreLog
{
    [LoggerMessage(101, LogLevel.Warning, "Redis runs with maxmemory-policy {Policy}: under memory pressure it may evict session locks (and whole sessions). Use noeviction for the session store's Redis.", EventName = "RedisEvictionPolicyMayEvictLocks")]
    public static partial void EvictionPolicyMayEvictLocks(ILogger logger, string policy);

    [LoggerMessage(102, LogLevel.Information, "Could not read Redis's maxmemory-policy ({Reason}); the eviction check is skipped.", EventName = "RedisEvictionPolicyUnknown")]
    public static partial void EvictionPolicyUnknown(ILogger logger, string reason);

    [LoggerMessage(103, LogLevel.Error, "Session {SessionKey}: its stored record in Redis is corrupt ({What}); the store dropped {Dropped} and took no lock. The next request starts afresh.", EventName = "RedisSessionCorrupt")]
    public static partial void SessionCorrupt(ILogger logger, SessionKey sessionKey, string what, string dropped);

    [LoggerMessage(104, LogLevel.Warning, "Session {SessionKey}: the store stopped waiting for an acquire ({Reason}) that then took the lock in Redis; that lock was released.", EventName = "RedisAbandonedLockReleased")]
    public static partial void AbandonedLockReleased(ILogger logger, SessionKey sessionKey, string reason);

    [LoggerMessage(105, LogLevel.Debug, "Session {SessionKey}: cleaning up after an abandoned acquire failed; a lock it took expires by its time to live.", EventName = "RedisAbandonedCleanupFailed")]
    public static partial void AbandonedCleanupFailed(ILogger logger, Exception exception, SessionKey sessionKey);

    [LoggerMessage(106, LogLevel.Warning, "Session {SessionKey}: {Limit} clean-ups of abandoned acquires are already in flight; this one is skipped, and a lock it took expires by its time to live.", EventName = "RedisAbandonedCleanupsOverLimit")]
    public static partial void AbandonedCleanupsOverLimit(ILogger logger, SessionKey sessionKey, int limit);

    [LoggerMessage(107, LogLevel.Error, "Session {SessionKey}: the {Operation} was applied on the Redis primary but only {Acknowledged} of {Required} replicas acknowledged it within {TimeoutMs} ms; it is reported as failed (a failover now could lose it).", EventName = "RedisReplicaAckMissing")]
    public static partial void ReplicaAckMissing(ILogger logger, Exception? exception, SessionKey sessionKey, string operation, long acknowledged, int required, long timeoutMs);

    [LoggerMessage(110, LogLevel.Information, "Releases are published with SPUBLISH on sharded channels (Redis 7 sharded pub/sub, StackExchange.Redis {ClientVersion}): in a cluster a release reaches only the shard of its session.", EventName = "RedisReleaseChannelsSharded")]
    public static partial void ReleaseChannelsSharded(ILogger logger, string clientVersion);

    [LoggerMessage(111, LogLevel.Information, "Releases are published with PUBLISH on classic channels (StackExchange.Redis {ClientVersion}): {Reason}.", EventName = "RedisReleaseChannelsClassic")]
    public static partial void ReleaseChannelsClassic(ILogger logger, string clientVersion, string reason);

    [LoggerMessage(112, LogLevel.Debug, "Could not ask Redis whether it has sharded pub/sub; releases use classic pub/sub until the next try.", EventName = "RedisReleaseChannelsUndecided")]
    public static partial void ReleaseChannelsUndecided(ILogger logger, Exception exception);

    [LoggerMessage(140, LogLevel.Warning, "Could not check that Garnet at {Endpoint} runs scripts atomically (the probe's second connection failed); if Garnet was started without --lua-transaction-mode true, two requests could both take a session's lock.", EventName = "RedisAtomicityUnchecked")]
    public static partial void AtomicityUnchecked(ILogger logger, Exception exception, string endpoint);

    [LoggerMessage(125, LogLevel.Error, "Session {SessionKey}: its RedisSessionStateProvider record is corrupt ({What}); the store dropped {Dropped} and holds no lock. The next request starts afresh.", EventName = "LegacyRedisSessionCorrupt")]
    public static partial void LegacySessionCorrupt(ILogger logger, Exception exception, SessionKey sessionKey, string what, string dropped);

    [LoggerMessage(160, LogLevel.Warning, "Redis Cluster: sweeping the session ends of a node's slots in one call failed ({Reason}; script flags need Redis 7); from now on each slot is swept with a call of its own.", EventName = "SessionEndNodeSweepUnavailable")]
    public static partial void SessionEndNodeSweepUnavailable(ILogger logger, Exception exception, string reason);
}
