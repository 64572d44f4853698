using StackExchange.Redis;

namespace SessionLocking.Redis;

/// <summary>
/// Names of one session's keys and channel. All of them share the cluster hash tag <c>{prefix:id}</c>, so every
/// script touches one slot in Redis Cluster:
/// <c>{prefix:id}:data</c> (items), <c>{prefix:id}:meta</c> (timeout; exists while the session exists),
/// <c>{prefix:id}:lock</c> (fencing token and acquisition time), <c>{prefix:id}:fence</c> (last token issued),
/// and the channel <c>{prefix:id}:released</c>.
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

    /// <summary>KEYS of every script: data, meta, lock, fence.</summary>
    public RedisKey[] For(string sessionId)
    {
        var tag = Tag(sessionId);
        return
        [
            (RedisKey)(tag + ":data"),
            (RedisKey)(tag + ":meta"),
            (RedisKey)(tag + ":lock"),
            (RedisKey)(tag + ":fence"),
        ];
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
