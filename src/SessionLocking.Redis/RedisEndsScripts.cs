namespace SessionLocking.Redis;

/// <summary>The scripts of session ends that are sent as text to one cluster node rather than composed from <c>Scripts/</c>.</summary>
internal static class RedisEndsScripts
{
    /// <summary>
    /// The due members of every ends index in ARGV[2..] (the indexes of the slots one primary owns; KEYS[1] is the first
    /// of them, for routing: Redis 7 lets a script with this flag read undeclared keys of other slots that node serves,
    /// while declared keys must share one slot), at most ARGV[1] in all, as index/member pairs. Reads only, on the
    /// server's clock, like <c>redis.due_ends</c>.
    /// </summary>
    public const string NodeDue = """
        #!lua flags=allow-cross-slot-keys,no-writes
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
        local max = tonumber(ARGV[1])
        local out = {}
        for i = 2, #ARGV do
          local due = redis.call('ZRANGEBYSCORE', ARGV[i], '-inf', now, 'LIMIT', 0, max)
          for _, member in ipairs(due) do
            out[#out + 1] = ARGV[i]
            out[#out + 1] = member
          end
          if #out >= 2 * max then break end
        end
        return out
        """;
}
