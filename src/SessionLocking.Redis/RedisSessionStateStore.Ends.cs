using System.Globalization;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace SessionLocking.Redis;

// Session_End on Redis (docs/redis-protocol.md, "Session ends"): while ends are tracked, every script gets two more keys,
// the ends index (of the session's slot, on a cluster) and the session's ended key, and records the session's expiry in the index in the same call (no extra
// round trip); the sweep reads the due members of the index and claims each with its own script, pipelined. Untracked
// (no OnSessionEnd handler), the scripts get the two keys they always had and nothing of this runs: they are composed
// without the ends helpers then (RequestScript, redis.ends_off.lua).
internal sealed partial class RedisSessionStateStore
{
    private volatile Action? _endRecorded;
    private EndsLayout? _endsLayout;
    private volatile bool _nodeSweepWorks = true;

    /// <inheritdoc />
    public void TrackEnds(Action endRecorded) => _endRecorded = endRecorded ?? throw new ArgumentNullException(nameof(endRecorded));

    /// <inheritdoc />
    public async ValueTask<bool> AbandonAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (keys.Length < 4)
        {
            return await RemoveAsync(sessionId, lockId, cancellationToken).ConfigureAwait(false);
        }

        _cache?.Remove(sessionId);
        var args = new RedisValue[4 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = Token(lockId);
        args[1] = PublishChannel(sessionId);
        args[2] = await ShardedFlagAsync(Abandon.Operation, cancellationToken).ConfigureAwait(false);
        PutChanges(args, 3, changes);
        var removed = (long)(await _runner.RunAsync(Abandon, keys, args, sessionId, cancellationToken, wrote: Wrote).ConfigureAwait(false)) == 1;
        if (removed)
        {
            _endRecorded?.Invoke();
        }

        return removed;
    }

    /// <inheritdoc />
    public async ValueTask<IReadOnlyList<SessionEndClaim>> ClaimEndsAsync(int max, TimeSpan lease, CancellationToken cancellationToken)
    {
        if (max < 1 || await EndsLayoutAsync(cancellationToken).ConfigureAwait(false) is not { } layout)
        {
            return [];
        }

        // Standalone: one index. Cluster: one per slot, every slot swept (so every node's part is done): one call per
        // primary over the indexes of the slots it owns, else (before Redis 7) one call per slot, pipelined.
        var found = layout.HashSlot is null
            ? await Task.WhenAll(layout.Indexes.Select(index => DueAsync(index, max, cancellationToken))).ConfigureAwait(false)
            : await ClusterDueAsync(layout, max, cancellationToken).ConfigureAwait(false);
        var claims = new List<Task<SessionEndClaim?>>();
        foreach (var (index, members) in found)
        {
            foreach (var member in members)
            {
                if (claims.Count < max && RedisSessionKeys.IdOfMember((string)member!) is { } sessionId)
                {
                    claims.Add(ClaimAsync(sessionId, (string)member!, index, lease, cancellationToken));
                }
            }
        }

        var claimed = await Task.WhenAll(claims).ConfigureAwait(false);
        return claimed.OfType<SessionEndClaim>().ToArray();
    }

    /// <inheritdoc />
    public async ValueTask<bool> CompleteEndAsync(SessionEndClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var layout = await EndsLayoutAsync(cancellationToken).ConfigureAwait(false) ?? throw new InvalidOperationException("Session ends are not tracked by this store.");
        var keys = _keys.ForEnds(claim.SessionId, layout.IndexOf(_keys.For(claim.SessionId)[0]));
        return (long)(await _runner.RunAsync(CompleteEnd, keys, [claim.ClaimToken], claim.SessionId, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <summary>The keys of a request's script: with the ends index and the ended key while ends are tracked.</summary>
    private async ValueTask<RedisKey[]> KeysAsync(string sessionId, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _endsLayout) is { } known)
        {
            return _keys.ForEnds(sessionId, known.IndexOf(_keys.For(sessionId)[0]));
        }

        if (_endRecorded is null || await EndsLayoutAsync(cancellationToken).ConfigureAwait(false) is not { } layout)
        {
            return _keys.For(sessionId);
        }

        return _keys.ForEnds(sessionId, layout.IndexOf(_keys.For(sessionId)[0]));
    }

    /// <summary>Where ends are indexed, once tracked (null before): decided on first use, when the client knows whether Redis is a cluster.</summary>
    private async ValueTask<EndsLayout?> EndsLayoutAsync(CancellationToken cancellationToken)
    {
        if (_endRecorded is null)
        {
            return null;
        }

        if (Volatile.Read(ref _endsLayout) is { } layout)
        {
            return layout;
        }

        var database = await _connection.GetDatabaseAsync("session ends", cancellationToken).ConfigureAwait(false);
        var multiplexer = database.Multiplexer;
        layout = multiplexer.GetServers().Any(static s => s.ServerType == ServerType.Cluster)
            ? new EndsLayout(_keys.EndsIndexPerSlot(multiplexer.HashSlot), multiplexer.HashSlot)
            : new EndsLayout([_keys.EndsIndex], null);
        return Interlocked.CompareExchange(ref _endsLayout, layout, null) ?? layout;
    }

    private async Task<(RedisKey Index, RedisResult[] Members)[]> ClusterDueAsync(EndsLayout layout, int max, CancellationToken cancellationToken)
    {
        var database = await _connection.GetDatabaseAsync("session ends", cancellationToken).ConfigureAwait(false);
        var multiplexer = database.Multiplexer;
        var primaries = multiplexer.GetServers().Where(static s => s.IsConnected && !s.IsReplica).ToArray();
        var configuration = primaries.Select(static s => s.ClusterConfiguration).FirstOrDefault(static c => c is not null);
        if (configuration is null || !_nodeSweepWorks)
        {
            return await Task.WhenAll(layout.Indexes.Select(index => DueAsync(index, max, cancellationToken))).ConfigureAwait(false);
        }

        var byNode = new Dictionary<System.Net.EndPoint, List<object>>();
        for (var slot = 0; slot < layout.Indexes.Length; slot++)
        {
            if (configuration.GetBySlot(slot)?.EndPoint is { } endPoint)
            {
                var index = (string)layout.Indexes[slot]!;
                if (!byNode.TryGetValue(endPoint, out var args))
                {
                    byNode[endPoint] = args = [RedisEndsScripts.NodeDue, 1, index, max];
                }

                args.Add(index);
            }
        }

        try
        {
            var calls = byNode.Select(async pair =>
            {
                var reply = (RedisResult[])(await _connection.WithTimeout(multiplexer.GetServer(pair.Key).ExecuteAsync("EVAL", pair.Value), "due-ends", cancellationToken).ConfigureAwait(false))!;
                var due = new List<(RedisKey, RedisResult[])>();
                for (var i = 0; i + 1 < reply.Length; i += 2)
                {
                    due.Add(((string)reply[i]!, [reply[i + 1]]));
                }

                return due;
            });
            return (await Task.WhenAll(calls).ConfigureAwait(false)).SelectMany(static d => d).ToArray();
        }
        catch (RedisServerException ex)
        {
            // No script flags (before Redis 7): one call per slot from now on.
            _nodeSweepWorks = false;
            RedisStoreLog.SessionEndNodeSweepUnavailable(_logger, ex, ex.Message);
            return await Task.WhenAll(layout.Indexes.Select(index => DueAsync(index, max, cancellationToken))).ConfigureAwait(false);
        }
    }

    private async Task<(RedisKey Index, RedisResult[] Members)> DueAsync(RedisKey index, int max, CancellationToken cancellationToken) =>
        (index, (RedisResult[])(await _runner.RunAsync(DueEnds, [index], [max], "", cancellationToken).ConfigureAwait(false))!);

    /// <summary>The ends indexes: one (standalone), or one per slot with the client's slot function (cluster).</summary>
    private sealed class EndsLayout(RedisKey[] indexes, Func<RedisKey, int>? hashSlot)
    {
        public RedisKey[] Indexes { get; } = indexes;

        public Func<RedisKey, int>? HashSlot { get; } = hashSlot;

        /// <summary>The index in the slot of <paramref name="sessionKey"/>.</summary>
        public RedisKey IndexOf(RedisKey sessionKey) => HashSlot is null ? Indexes[0] : Indexes[HashSlot(sessionKey)];
    }

    private async Task<SessionEndClaim?> ClaimAsync(string sessionId, string member, RedisKey index, TimeSpan lease, CancellationToken cancellationToken)
    {
        var nonce = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var keys = _keys.ForEnds(sessionId, index);
        var reply = await _runner.RunAsync(ClaimEnd, keys, [member, Milliseconds(lease), nonce], sessionId, cancellationToken).ConfigureAwait(false);
        if (reply.IsNull || reply.Resp2Type != ResultType.Array)
        {
            return null;
        }

        var parts = (RedisResult[])reply!;
        var reason = (string)parts[0]! == "abandoned" ? SessionEndReason.Abandoned : SessionEndReason.Timeout;
        var fields = (RedisResult[])parts[1]!;
        var timeout = "0";
        for (var i = 0; i + 1 < fields.Length; i += 2)
        {
            if ((string)fields[i]! == "timeout")
            {
                timeout = (string)fields[i + 1]!;
            }
        }

        var data = new SessionData(ReadItems(parts[1]), ReadTimeout(RedisResult.Create((RedisValue)(long.TryParse(timeout, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? timeout : "0"))));
        return new SessionEndClaim(sessionId, reason, data, nonce);
    }
}
