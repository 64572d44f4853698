namespace SessionLocking.Redis.Legacy;

/// <summary>
/// The Lua scripts of <see cref="LegacyRedisSessionStateStore"/>, one set per key layout. Every script gets KEYS[1] the
/// lock, KEYS[2] the data, KEYS[3] the timeout key, all under the hash tag <c>{app_id}</c>, and ARGV[1] the default
/// session timeout in seconds (used when the timeout key is missing).
/// </summary>
internal sealed class LegacyScripts
{
    /// <summary>What a script puts first in an error answer about a corrupt record: <c>SESSIONCORRUPT what|dropped</c>.</summary>
    public const string CorruptMarker = "SESSIONCORRUPT";

    /// <summary>The scripts of the V5 layout (strings).</summary>
    public static readonly LegacyScripts V5 = new(V5Helpers);

    /// <summary>The scripts of the V4 layout (hashes).</summary>
    public static readonly LegacyScripts V4 = new(V4Helpers);

    private const string Prologue = """
        local lock_key = KEYS[1]
        local data_key = KEYS[2]
        local timeout_key = KEYS[3]
        local default_timeout = tonumber(ARGV[1])

        """;

    private const string V5Helpers = """
        local layout = 'string'
        local function read_timeout() return redis.call('GET', timeout_key) end
        local function write_timeout(sec) redis.call('SET', timeout_key, sec, 'EX', sec) end
        local function exists() return redis.call('EXISTS', data_key) == 1 end
        local function load() return redis.call('GET', data_key) end

        """;

    private const string V4Helpers = """
        local layout = 'hash'
        local function read_timeout() return redis.call('HGET', timeout_key, 'SessionTimeout') end
        local function write_timeout(sec)
          redis.call('HSET', timeout_key, 'SessionTimeout', sec)
          redis.call('EXPIRE', timeout_key, sec)
        end
        local function exists() return redis.call('EXISTS', data_key) == 1 or redis.call('EXISTS', timeout_key) == 1 end
        local function load() return redis.call('HGETALL', data_key) end

        """;

    // session_timeout(): the stored timeout in seconds (the default when none is stored), or nil and what is wrong.
    //   The provider writes an Int32 of seconds, so only 1 to 2147483647 in plain digits is taken: tonumber alone would
    //   take '1e300', 'inf', '0x10' or ' 7', and EXPIRE (or TimeSpan) then fails after the lock was set. The keys must
    //   also have the layout's type, or every later call on them would fail with WRONGTYPE.
    // corrupt(): drops the session (no lock is held by anyone when it is called) and answers the error the store maps
    //   to SessionStoreCorruptException.
    // lock_value(): the holder's value, false when unlocked; a lock that is not a string is dropped as corrupt.
    // expire(sec) / slide(): data and timeout key live for the session timeout from now (what every provider script
    //   does); slide() leaves a session whose timeout is corrupt alone (the acquire and the read report it).
    // unlock(): deletes the lock and wakes our waiters.
    private const string Common = LuaHashChanges.Function + """
        local function type_of(key) return redis.call('TYPE', key)['ok'] end
        local function session_timeout()
          local t = type_of(data_key)
          if t ~= 'none' and t ~= layout then return nil, 'session data is not a ' .. layout end
          t = type_of(timeout_key)
          if t == 'none' then return default_timeout end
          if t ~= layout then return nil, 'session timeout is not a ' .. layout end
          local raw = read_timeout()
          if not raw then return default_timeout end
          if #raw < 1 or #raw > 10 or not string.find(raw, '^%d+$') then return nil, 'session timeout' end
          local n = tonumber(raw)
          if n < 1 or n > 2147483647 then return nil, 'session timeout' end
          return n
        end
        local function corrupt(what)
          redis.call('DEL', data_key, timeout_key)
          return redis.error_reply('SESSIONCORRUPT ' .. what .. '|the session')
        end
        local function lock_value()
          local t = type_of(lock_key)
          if t == 'none' then return false end
          if t ~= 'string' then
            redis.call('DEL', lock_key)
            return nil, redis.error_reply('SESSIONCORRUPT lock is not a string|the lock')
          end
          return redis.call('GET', lock_key)
        end
        local function expire(sec)
          redis.call('EXPIRE', data_key, sec)
          redis.call('EXPIRE', timeout_key, sec)
        end
        local function slide()
          local sec = session_timeout()
          if sec and exists() then expire(sec) end
        end
        local function unlock(channel, token)
          redis.call('DEL', lock_key)
          redis.call('PUBLISH', channel, token)
        end

        """;

    /// <summary>
    /// ARGV[2] our lock value, ARGV[3] lock TTL ms, ARGV[4] '1' to lock a missing session. {2, holder} | {1} | {1, value}
    /// | {0, value, data, timeoutSeconds} | a corrupt error (nothing taken, the corrupt part dropped).
    /// </summary>
    private const string AcquireBody = """
        local holder, lock_error = lock_value()
        if lock_error then return lock_error end
        if holder then
          slide()
          return {2, holder}
        end
        local sec, what = session_timeout()
        if not sec then return corrupt(what) end
        if not exists() then
          if ARGV[4] ~= '1' then return {1} end
          redis.call('SET', lock_key, ARGV[2], 'PX', ARGV[3])
          return {1, ARGV[2]}
        end
        redis.call('SET', lock_key, ARGV[2], 'PX', ARGV[3])
        expire(sec)
        return {0, ARGV[2], load(), sec}
        """;

    /// <summary>No more ARGV. {2, holder} while a writer holds the lock | {1} | {0, data, timeoutSeconds} | a corrupt error.</summary>
    private const string SharedBody = """
        local holder, lock_error = lock_value()
        if lock_error then return lock_error end
        if holder then
          slide()
          return {2, holder}
        end
        local sec, what = session_timeout()
        if not sec then return corrupt(what) end
        if not exists() then return {1} end
        expire(sec)
        return {0, load(), sec}
        """;

    /// <summary>V5 write-back, step 1. ARGV[2] our value. {0} when not ours | {1, data or false} | {2} when the data is not a string.</summary>
    private const string FetchBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return {0} end
        local t = type_of(data_key)
        if t ~= 'none' and t ~= 'string' then return {2} end
        return {1, load()}
        """;

    /// <summary>
    /// V5 write-back, step 2. ARGV[2] our value, ARGV[3] timeout s, ARGV[4] channel, ARGV[5] the whole collection, ARGV[6]
    /// '1' when the session was new. 1 | 0 when not ours | 2 when a stored session vanished under its holder (released, nothing written).
    /// </summary>
    private const string CommitV5Body = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        if ARGV[6] ~= '1' and not exists() then
          unlock(ARGV[4], ARGV[2])
          return 2
        end
        redis.call('SET', data_key, ARGV[5], 'EX', ARGV[3])
        write_timeout(ARGV[3])
        unlock(ARGV[4], ARGV[2])
        return 1
        """;

    /// <summary>
    /// V4 write-back (partial). ARGV[2] our value, ARGV[3] timeout s, ARGV[4] channel, ARGV[5] '1' when new, ARGV[6] n
    /// removed, ARGV[7 .. 6+n] removed names, then name/value pairs. 1 | 0 | 2 as <see cref="CommitV5Body"/>, also when a
    /// key was replaced by one of another type since the acquire (dropped: HSET on it would fail half-way).
    /// </summary>
    private const string CommitV4Body = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        local data_type, timeout_type = type_of(data_key), type_of(timeout_key)
        if (data_type ~= 'none' and data_type ~= 'hash') or (timeout_type ~= 'none' and timeout_type ~= 'hash') then
          redis.call('DEL', data_key, timeout_key)
          unlock(ARGV[4], ARGV[2])
          return 2
        end
        if ARGV[5] ~= '1' and not exists() then
          unlock(ARGV[4], ARGV[2])
          return 2
        end
        hash_changes(data_key, 7, 6 + tonumber(ARGV[6]))
        redis.call('EXPIRE', data_key, ARGV[3])
        write_timeout(ARGV[3])
        unlock(ARGV[4], ARGV[2])
        return 1
        """;

    /// <summary>ARGV[2] our value, ARGV[3] channel. 1 | 0 when not ours.</summary>
    private const string ReleaseBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        unlock(ARGV[3], ARGV[2])
        slide()
        return 1
        """;

    /// <summary>ARGV[2] our value, ARGV[3] channel. 1 | 0 when not ours.</summary>
    private const string RemoveBody = """
        if redis.call('GET', lock_key) ~= ARGV[2] then return 0 end
        redis.call('DEL', data_key, timeout_key)
        unlock(ARGV[3], ARGV[2])
        return 1
        """;

    /// <summary>ARGV[2] the holder's value ('' for a holder whose value is not a positive integer), ARGV[3] channel. 1 | 0.</summary>
    private const string ForceReleaseBody = """
        if type_of(lock_key) ~= 'string' then return 0 end
        local v = redis.call('GET', lock_key)
        local match
        if ARGV[2] == '' then
          match = not string.find(v, '^[1-9]%d*$') or #v > 19 or (#v == 19 and v > '9223372036854775807')
        else
          match = v == ARGV[2]
        end
        if not match then return 0 end
        unlock(ARGV[3], v)
        return 1
        """;

    private const string KeepAliveBody = """
        slide()
        return 1
        """;

    private LegacyScripts(string helpers)
    {
        var head = Prologue + helpers + Common;
        Acquire = head + AcquireBody;
        Shared = head + SharedBody;
        Fetch = head + FetchBody;
        CommitV5 = head + CommitV5Body;
        CommitV4 = head + CommitV4Body;
        Release = head + ReleaseBody;
        Remove = head + RemoveBody;
        ForceRelease = head + ForceReleaseBody;
        KeepAlive = head + KeepAliveBody;
    }

    public string Acquire { get; }

    public string Shared { get; }

    public string Fetch { get; }

    public string CommitV5 { get; }

    public string CommitV4 { get; }

    public string Release { get; }

    public string Remove { get; }

    public string ForceRelease { get; }

    public string KeepAlive { get; }
}
