using SessionLocking.Diagnostics;
using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>Durable writes: a <c>WAIT</c> pipelined right behind the script, and what a missing acknowledgement means.</summary>
internal sealed partial class RedisScriptRunner
{
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
                : primary.ExecuteAsync("WAIT", MinReplicas, (long)Math.Ceiling(_settings.ReplicaAckTimeout.TotalMilliseconds));
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
    /// <see cref="ScriptRunnerSettings.MinReplicasAcknowledged"/> replicas. Otherwise the write, which the primary has
    /// applied, may vanish in a failover: it is logged (<c>RedisReplicaAckMissing</c>), counted
    /// (<see cref="RedisStoreInstruments.ReplicaAckFailedCounter"/>) and reported as failed. A lock the write took (an
    /// acquire) is released first, so that no request works under a lock a failover could lose.
    /// </summary>
    private async Task CheckReplicasAsync(Task<RedisResult> acknowledged, string operation, string sessionId, LockTakingCall? lockTaking, SessionLockId? taken)
    {
        long count = -1;
        Exception? failure = null;
        try
        {
            count = (long)await _connection.WithTimeout(acknowledged, operation + " (WAIT for replicas)", CancellationToken.None).ConfigureAwait(false);
            if (count >= MinReplicas)
            {
                return;
            }
        }
        catch (Exception ex)
        {
            failure = ex;
        }

        _replicaAckFailed?.Add(1, new KeyValuePair<string, object?>("operation", operation));
        var timeoutMs = (long)Math.Ceiling(_settings.ReplicaAckTimeout.TotalMilliseconds);
        RedisStoreLog.ReplicaAckMissing(_logger, failure, new SessionKey(sessionId), operation, count, MinReplicas, timeoutMs);
        if (lockTaking is not null && taken is { } lockId)
        {
            try
            {
                await lockTaking.Release(lockId).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // The lock then expires by its time to live.
                RedisStoreLog.AbandonedCleanupFailed(_logger, ex, new SessionKey(sessionId));
            }
        }

        var what = count < 0
            ? $"the wait for its replicas failed ({failure?.GetType().Name}: {failure?.Message})"
            : $"only {count} of {MinReplicas} replicas acknowledged it within {timeoutMs} ms";
        var message = lockTaking is not null
            ? $"The session store's {operation} took the lock on the Redis primary, but {what}; the lock was released ({_settings.OptionsName}.MinReplicasAcknowledged)."
            : $"The session store's {operation} was applied on the Redis primary, but {what}: a failover could lose it, so it is reported as failed; its outcome is unknown ({_settings.OptionsName}.MinReplicasAcknowledged).";
        throw new SessionStoreUnavailableException(message, failure) { Operation = operation };
    }
}
