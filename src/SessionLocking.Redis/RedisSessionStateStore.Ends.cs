using System.Globalization;
using System.Security.Cryptography;
using StackExchange.Redis;

namespace SessionLocking.Redis;

// Session_End on Redis (docs/redis-protocol.md, "Session ends"): while ends are tracked, every script gets two more keys,
// the ends index and the session's ended key, and records the session's expiry in the index in the same call (no extra
// round trip); the sweep reads the due members of the index and claims each with its own script, pipelined. Untracked
// (no OnSessionEnd handler), the scripts get the two keys they always had and nothing of this runs.
internal sealed partial class RedisSessionStateStore
{
    private const int Untracked = 0;
    private const int Tracked = 1;
    private const int TrackedUnsupported = 2;

    private Action? _endRecorded;
    private int _ends = Untracked;
    private bool _endsChecked;

    /// <inheritdoc />
    public void TrackEnds(Action endRecorded)
    {
        _endRecorded = endRecorded ?? throw new ArgumentNullException(nameof(endRecorded));
        Volatile.Write(ref _ends, Tracked);
    }

    /// <inheritdoc />
    public async ValueTask<bool> AbandonAsync(string sessionId, SessionLockId lockId, SessionChanges changes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(changes);
        var keys = await KeysAsync(sessionId, cancellationToken).ConfigureAwait(false);
        if (keys.Length < 4)
        {
            return await RemoveAsync(sessionId, lockId, cancellationToken).ConfigureAwait(false);
        }

        var args = new RedisValue[4 + changes.Removed.Count + (2 * changes.Set.Count)];
        args[0] = Token(lockId);
        args[1] = PublishChannel(sessionId);
        args[2] = await ShardedFlagAsync(Abandon.Operation, cancellationToken).ConfigureAwait(false);
        args[3] = changes.Removed.Count;
        var i = 4;
        foreach (var name in changes.Removed)
        {
            args[i++] = RedisSessionKeys.ItemPrefix + name;
        }

        foreach (var (name, value) in changes.Set)
        {
            args[i++] = RedisSessionKeys.ItemPrefix + name;
            args[i++] = value;
        }

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
        if (max < 1 || !await TracksEndsAsync(cancellationToken).ConfigureAwait(false))
        {
            return [];
        }

        var index = _keys.EndsIndex;
        var due = (RedisResult[])(await _runner.RunAsync(DueEnds, [index], [max], "", cancellationToken).ConfigureAwait(false))!;
        var claims = new List<Task<SessionEndClaim?>>(due.Length);
        foreach (var member in due)
        {
            if (RedisSessionKeys.IdOfMember((string)member!) is { } sessionId)
            {
                claims.Add(ClaimAsync(sessionId, (string)member!, index, lease, cancellationToken));
            }
        }

        var claimed = await Task.WhenAll(claims).ConfigureAwait(false);
        return claimed.OfType<SessionEndClaim>().ToArray();
    }

    /// <inheritdoc />
    public async ValueTask<bool> CompleteEndAsync(SessionEndClaim claim, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(claim);
        var keys = _keys.ForEnds(claim.SessionId, _keys.EndsIndex);
        return (long)(await _runner.RunAsync(CompleteEnd, keys, [claim.ClaimToken], claim.SessionId, cancellationToken).ConfigureAwait(false)) == 1;
    }

    /// <summary>The keys of a request's script: with the ends index and the ended key while ends are tracked.</summary>
    private async ValueTask<RedisKey[]> KeysAsync(string sessionId, CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ends) == Untracked || !await TracksEndsAsync(cancellationToken).ConfigureAwait(false))
        {
            return _keys.For(sessionId);
        }

        return _keys.ForEnds(sessionId, _keys.EndsIndex);
    }

    /// <summary>
    /// True while ends are tracked on a Redis that can keep one ends index: standalone or replicated. On a Redis Cluster a
    /// script may only touch keys of its session's slot, so ends are not tracked there yet (logged once).
    /// </summary>
    private async ValueTask<bool> TracksEndsAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _ends) == Untracked)
        {
            return false;
        }

        if (!Volatile.Read(ref _endsChecked))
        {
            var database = await _connection.GetDatabaseAsync("session ends", cancellationToken).ConfigureAwait(false);
            if (database.Multiplexer.GetServers().Any(static s => s.ServerType == ServerType.Cluster))
            {
                Volatile.Write(ref _ends, TrackedUnsupported);
                RedisStoreLog.SessionEndsNotOnCluster(_logger);
            }

            Volatile.Write(ref _endsChecked, true);
        }

        return Volatile.Read(ref _ends) == Tracked;
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

        var data = ReadData(parts[1], RedisResult.Create((RedisValue)(long.TryParse(timeout, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? timeout : "0")));
        return new SessionEndClaim(sessionId, reason, data, nonce);
    }
}
