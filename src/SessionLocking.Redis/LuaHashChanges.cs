namespace SessionLocking.Redis;

/// <summary>A Lua helper both Redis stores prepend to their partial write-back scripts.</summary>
internal static class LuaHashChanges
{
    /// <summary>
    /// <c>hash_changes(key, first, last_removed)</c>: deletes the fields <c>ARGV[first .. last_removed]</c>, then sets the
    /// field/value pairs from <c>ARGV[last_removed + 1]</c> to the end; both in chunks of 1,000 arguments (an even number,
    /// so pairs never split), because Lua's <c>unpack</c> has a limit.
    /// </summary>
    public const string Function = """
        local function hash_changes(key, first, last_removed)
          while first <= last_removed do
            local upto = math.min(first + 999, last_removed)
            redis.call('HDEL', key, unpack(ARGV, first, upto))
            first = upto + 1
          end
          while first <= #ARGV do
            local upto = math.min(first + 999, #ARGV)
            redis.call('HSET', key, unpack(ARGV, first, upto))
            first = upto + 1
          end
        end

        """;
}
