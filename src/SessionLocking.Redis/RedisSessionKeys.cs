using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// Names of one session's keys and channel. All of them share the cluster hash tag <c>{prefix:id}</c>, so every
/// script touches one slot in Redis Cluster:
/// <c>{prefix:id}:session</c> (one hash: the items, each field named <see cref="ItemPrefix"/> + item name, and the
/// metadata fields <c>timeout</c> and <c>fence</c>; it exists exactly while the session is stored),
/// <c>{prefix:id}:lock</c> (fencing token, acquisition time, owner nonce), and the channel <c>{prefix:id}:released</c>.
/// </summary>
internal sealed class RedisSessionKeys
{
    private readonly string _prefix;

    public RedisSessionKeys(string prefix)
    {
        if (ValidatePrefix(prefix) is { } problem)
        {
            throw new ArgumentException(problem, nameof(prefix));
        }

        _prefix = prefix;
    }

    /// <summary>Returns why <paramref name="prefix"/> cannot be a key prefix, or null when it can.</summary>
    public static string? ValidatePrefix(string? prefix)
    {
        if (string.IsNullOrEmpty(prefix))
        {
            return $"SessionState:Redis:KeyPrefix (RedisSessionStoreOptions.KeyPrefix) must not be empty; the default is \"{RedisSessionStoreOptions.DefaultKeyPrefix}\". Use a name per application, such as \"shop\".";
        }

        if (prefix.Length > RedisSessionStoreOptions.MaxKeyPrefixLength)
        {
            return $"SessionState:Redis:KeyPrefix (RedisSessionStoreOptions.KeyPrefix) must have at most {RedisSessionStoreOptions.MaxKeyPrefixLength} characters; it has {prefix.Length}.";
        }

        foreach (var ch in prefix)
        {
            if (ch is '{' or '}' || char.IsControl(ch))
            {
                return $"SessionState:Redis:KeyPrefix (RedisSessionStoreOptions.KeyPrefix) \"{prefix}\" must not contain '{{', '}}' or control characters: the keys of a session share the cluster hash tag {{prefix:sessionid}}. Use letters, digits, '-', '_', ':' or '.'.";
            }
        }

        return null;
    }

    /// <summary>
    /// What every item's field in the session hash starts with. Metadata fields (<c>timeout</c>, <c>fence</c>) never
    /// start with it, so no item name can collide with them.
    /// </summary>
    public const string ItemPrefix = "i:";

    /// <summary>KEYS of every script: the session hash, then the lock.</summary>
    public RedisKey[] For(string sessionId)
    {
        var tag = Tag(sessionId);
        return
        [
            (RedisKey)(tag + ":session"),
            (RedisKey)(tag + ":lock"),
        ];
    }

    /// <summary>
    /// KEYS of every script while session ends are tracked: the session hash, the lock, the ends index
    /// <paramref name="endsIndex"/> and the session's ended key <c>{prefix:id}:ended</c> (its hash after its end, until raised).
    /// </summary>
    public RedisKey[] ForEnds(string sessionId, RedisKey endsIndex)
    {
        var tag = Tag(sessionId);
        return
        [
            (RedisKey)(tag + ":session"),
            (RedisKey)(tag + ":lock"),
            endsIndex,
            (RedisKey)(tag + ":ended"),
        ];
    }

    /// <summary>The ends index of a standalone (or replicated) Redis: one sorted set for the application's prefix.</summary>
    public RedisKey EndsIndex => "{" + _prefix + ":ends}:due";

    /// <summary>
    /// The ends indexes of a Redis Cluster, one per slot (a script may only touch its session's slot): index <c>s</c> is
    /// <c>{prefix:ends:n}:due</c> with the smallest <c>n</c> whose hash tag maps to slot <c>s</c>.
    /// </summary>
    /// <param name="hashSlot">The cluster's slot of a key (the client computes it).</param>
    public RedisKey[] EndsIndexPerSlot(Func<RedisKey, int> hashSlot)
    {
        const int Slots = 16384;
        var indexes = new RedisKey[Slots];
        var taken = new bool[Slots];
        var found = 0;
        for (var n = 0; found < Slots; n++)
        {
            var key = (RedisKey)("{" + _prefix + ":ends:" + n.ToString(System.Globalization.CultureInfo.InvariantCulture) + "}:due");
            var slot = hashSlot(key);
            if (slot is >= 0 and < Slots && !taken[slot])
            {
                taken[slot] = true;
                indexes[slot] = key;
                found++;
            }
        }

        return indexes;
    }

    /// <summary>The session id in an ends index member (<c>{prefix:id}:session</c> or <c>{prefix:id}:ended</c>), or null.</summary>
    public static string? IdOfMember(string member)
    {
        var close = member.IndexOf('}', StringComparison.Ordinal);
        var colon = close < 0 ? -1 : member.LastIndexOf(':', close);
        var id = colon < 0 ? null : member[(colon + 1)..close];
        return id is not null && SessionIds.IsValid(id) ? id : null;
    }

    /// <summary>The channel a release is published on (without the client's channel prefix).</summary>
    public string Channel(string sessionId) => Tag(sessionId) + ":released";

    private string Tag(string sessionId)
    {
        // The middleware validates ids; checked again here because the id becomes part of a key.
        if (!SessionIds.IsValid(sessionId))
        {
            throw new ArgumentException("A session id must be 24 characters of a-z and 0-5 before it is used in a Redis key.", nameof(sessionId));
        }

        return "{" + _prefix + ":" + sessionId + "}";
    }
}
