using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace SessionLocking.Redis.Scripting;

/// <summary>
/// Runs the Lua scripts of both Redis stores (docs/redis-protocol.md, "The script runner"): by SHA1 (EVALSHA, the
/// scripts preloaded on every primary by <see cref="RedisConnection"/>), once more as text after a NOSCRIPT answer;
/// within the operation timeout or the caller's cancellation; errors mapped to <see cref="SessionStoreUnavailableException"/>
/// and <see cref="SessionStoreCorruptException"/>; durable writes followed by a pipelined <c>WAIT</c>
/// (RedisScriptRunner.Durable.cs); a lock-taking call the store gave up on undone (RedisScriptRunner.CleanUp.cs).
/// </summary>
internal sealed partial class RedisScriptRunner
{
    /// <summary>Every script goes to the primary, never to a replica (a Sentinel or replica configuration lists both).</summary>
    public const CommandFlags ToPrimary = CommandFlags.DemandMaster;

    /// <summary>What the scripts put first in an error answer about a corrupt record: <c>SESSIONCORRUPT what|dropped</c>.</summary>
    public const string CorruptMarker = "SESSIONCORRUPT";

    private readonly RedisConnection _connection;
    private readonly ScriptRunnerSettings _settings;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly Counter<long>? _abandonedReleased;
    private readonly Counter<long>? _replicaAckFailed;
    private int _evictionPolicyChecked;

    public RedisScriptRunner(RedisConnection connection, ScriptRunnerSettings settings, IReadOnlyCollection<LuaScript> scripts, ILogger logger, IMeterFactory? meterFactory, TimeProvider timeProvider)
    {
        _connection = connection;
        _settings = settings;
        _logger = logger;
        _timeProvider = timeProvider;
        _abandonedReleased = RedisStoreInstruments.AbandonedReleased(meterFactory);
        _replicaAckFailed = RedisStoreInstruments.ReplicaAckFailed(meterFactory, MinReplicas);
        connection.PreloadScripts([.. scripts.Select(s => s.Text)]);
    }

    /// <summary>The connection the scripts run on.</summary>
    public RedisConnection Connection => _connection;

    private int MinReplicas => Math.Max(0, _settings.MinReplicasAcknowledged);

    /// <summary>
    /// Runs <paramref name="script"/> on the session's <paramref name="keys"/>. <paramref name="lockTaking"/>: the call may
    /// take a lock; when the store gives up on it, or its durable write fails, that lock is released
    /// (<see cref="LockTakingCall"/>). <paramref name="wrote"/>: the call writes durably; with
    /// <see cref="ScriptRunnerSettings.MinReplicasAcknowledged"/> set, an answer it says wrote something must be
    /// acknowledged by that many replicas (a lock-taking call's durable write is the lock it took).
    /// </summary>
    public async Task<RedisResult> RunAsync(
        LuaScript script,
        RedisKey[] keys,
        RedisValue[] args,
        string sessionId,
        CancellationToken cancellationToken,
        LockTakingCall? lockTaking = null,
        Func<RedisResult, bool>? wrote = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var database = await _connection.GetDatabaseAsync(script.Operation, cancellationToken).ConfigureAwait(false);
        CheckEvictionPolicyOnce(database);
        var waits = (wrote is not null || lockTaking is not null) && MinReplicas > 0;
        Task<RedisResult>? pending = null;
        Task<RedisResult>? acknowledged = null;
        RedisResult result;
        try
        {
            try
            {
                (pending, acknowledged) = Send(database, script.Hash, keys, args, waits);
                result = await _connection.Limit(pending, cancellationToken);
            }
            catch (RedisServerException ex) when (ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
            {
                Observe(acknowledged);
                (pending, acknowledged) = Send(database, script.Text, keys, args, waits);
                result = await _connection.Limit(pending, cancellationToken);
            }
        }
        catch (Exception caught)
        {
            // The time limit is awaited here rather than in a helper of its own: one async layer less per store call.
            var ex = pending is null ? caught : _connection.LimitFailure(caught, pending, script.Operation, cancellationToken);
            Observe(acknowledged);
            if (lockTaking is not null && pending is not null && MayStillTakeEffect(pending))
            {
                CleanUpAbandoned(database, keys, sessionId, lockTaking, pending, ex switch
                {
                    OperationCanceledException => "the request was cancelled",
                    SessionStoreUnavailableException => "no answer within the operation timeout",
                    _ => "the client failed the call: " + ex.GetType().Name,
                });
            }

            if (ex is OperationCanceledException or SessionStoreUnavailableException)
            {
                if (ex == caught)
                {
                    throw;
                }

                throw ex;
            }

            if (ex is RedisServerException server && CorruptDetail(server.Message) is { } detail)
            {
                var bar = detail.IndexOf('|', StringComparison.Ordinal);
                throw _settings.Corrupt(script.Operation, sessionId, bar < 0 ? detail : detail[..bar], bar < 0 ? "it" : detail[(bar + 1)..], server);
            }

            throw Unavailable(script.Operation, ex);
        }

        if (acknowledged is not null)
        {
            var taken = lockTaking?.TookLock(result);
            if (taken is not null || (lockTaking is null && wrote!(result)))
            {
                await CheckReplicasAsync(acknowledged, script.Operation, sessionId, lockTaking, taken).ConfigureAwait(false);
            }
            else
            {
                Observe(acknowledged);
            }
        }

        return result;
    }

    /// <summary>
    /// What a script's corrupt-record error answer says (<c>SESSIONCORRUPT what|dropped</c>), or null for any other error.
    /// Redis passes the script's error text as it is; Garnet puts <c>ERR </c> before it.
    /// </summary>
    internal static string? CorruptDetail(string message)
    {
        var at = message.StartsWith(CorruptMarker, StringComparison.Ordinal) ? 0
            : message.StartsWith("ERR " + CorruptMarker, StringComparison.Ordinal) ? 4
            : -1;
        return at < 0 ? null : message[(at + CorruptMarker.Length)..].Trim();
    }

    /// <summary>A failure of the client or an error answer of Redis, as the store reports it.</summary>
    public SessionStoreUnavailableException Unavailable(string operation, Exception ex) =>
        new(ex is RedisServerException
                ? $"Redis answered the session store's {operation} with an error: {ex.Message}"
                : $"The session store's {operation} failed: Redis is unavailable ({ex.GetType().Name}: {ex.Message}). Each call waits at most {_connection.OperationTimeout.TotalSeconds:0.###} s ({_settings.ConfigurationSection}:OperationTimeout).",
            ex)
        { Operation = operation };

    /// <summary>
    /// True when a script call the store gave up on may have run (or may still run) in Redis: it is still pending,
    /// it succeeded after all, or the client failed it without an answer from Redis. An error answer from Redis
    /// (<see cref="RedisServerException"/>) means the script took nothing.
    /// </summary>
    private static bool MayStillTakeEffect(Task<RedisResult> pending) =>
        !pending.IsCompleted
        || pending.IsCompletedSuccessfully
        || (pending.IsFaulted && pending.Exception!.InnerException is not RedisServerException);

    private static void Observe(Task? task)
    {
        if (task is not null)
        {
            _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// On the first call, warns when Redis may evict keys (any maxmemory-policy but noeviction): a lock evicted
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
}
