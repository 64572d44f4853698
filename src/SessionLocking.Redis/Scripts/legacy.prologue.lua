-- The RedisSessionStateProvider's keys of one session, all under the hash tag {app_id} (docs/legacy-redis.md), and the
-- default session timeout in seconds (used when the timeout key is missing): every legacy script starts so.
local lock_key = KEYS[1]
local data_key = KEYS[2]
local timeout_key = KEYS[3]
local default_timeout = tonumber(ARGV[1])
--! include shared.num
--! include shared.publish
--! include shared.hash_changes
--! include legacy.layout
-- session_timeout(): the stored timeout in seconds (the default when none is stored), or nil and what is wrong.
--   The provider writes an Int32 of seconds, so only 1 to 2147483647 in plain digits is taken (num(), at most 10
--   digits), and EXPIRE (or TimeSpan) cannot fail after the lock was set. The keys must also have the layout's type,
--   or every later call on them would fail with WRONGTYPE.
-- corrupt(): drops the session (no lock is held by anyone when it is called) and answers the error the store maps
--   to SessionStoreCorruptException.
-- lock_value(): the holder's value, false when unlocked; a lock that is not a string is dropped as corrupt.
-- expire(sec) / slide(): data and timeout key live for the session timeout from now (what every provider script
--   does); slide() leaves a session whose timeout is corrupt alone (the acquire and the read report it).
-- unlock(): deletes the lock and wakes our waiters (SPUBLISH when they subscribe to sharded channels).
local function type_of(key) return redis.call('TYPE', key)['ok'] end
local function session_timeout()
  local t = type_of(data_key)
  if t ~= 'none' and t ~= layout then return nil, 'session data is not a ' .. layout end
  t = type_of(timeout_key)
  if t == 'none' then return default_timeout end
  if t ~= layout then return nil, 'session timeout is not a ' .. layout end
  local raw = read_timeout()
  if not raw then return default_timeout end
  local n = #raw <= 10 and num(raw)
  if not n or n < 1 or n > 2147483647 then return nil, 'session timeout' end
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
local function unlock(channel, token, sharded)
  redis.call('DEL', lock_key)
  publish(channel, token, sharded)
end
