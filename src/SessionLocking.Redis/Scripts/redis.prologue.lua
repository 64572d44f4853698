-- The Redis store's keys, always in this order, both under one cluster hash tag (docs/redis-protocol.md).
local session_key = KEYS[1]
local lock_key = KEYS[2]
--! include shared.num
--! include shared.publish
--! include redis.ends
-- int(): numbers go to Redis as plain integer strings (tokens are microseconds, too large for Lua's %.14g).
-- read_lock() / read_session(): the validated records; false and what is wrong when corrupt (wrong type included).
--   A session record is {timeout, fence, timeout as stored}; load_session() adds the whole hash as [4], read with
--   the one HGETALL that the load needs anyway (read_session() reads only the two fields, for scripts that load nothing).
--   read_lock() asks PTTL first: most calls find no lock, and PTTL answers that in one cheap call (-2) where reading
--   the hash would also need EXISTS to tell a missing lock from one without fields.
-- check_lock() / check_session(): read_lock() / load_session(), but a corrupt record is deleted and the error answer returned.
-- slide(): the session lives for its timeout, and never shorter than a lock that is held (for a caller that does not
--   know the lock's TTL; a script that has just taken or deleted the lock sets the expiry itself).
-- holds(): the fencing guard of every operation that brings a token.
-- unlock(): deletes the lock and publishes the release.
local function int(n) return string.format('%.0f', n) end
local function server_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local function corrupt(what, dropped)
  return redis.error_reply('SESSIONCORRUPT ' .. what .. '|' .. dropped)
end
local function read_lock()
  if redis.call('PTTL', lock_key) == -2 then return nil end
  local l = redis.pcall('HMGET', lock_key, 'token', 'at')
  if l.err then return false, 'lock is not a hash' end
  if not l[1] and not l[2] then return false, 'lock has no token' end
  local token = num(l[1])
  if not token or token < 1 then return false, 'lock token' end
  local at = num(l[2])
  if not at then return false, 'lock acquisition time' end
  return {token, at, l[1]}
end
local function check_lock()
  local lock, what = read_lock()
  if lock == false then
    redis.call('DEL', lock_key)
    return nil, corrupt(what, 'the lock')
  end
  return lock
end
local function session_record(raw_timeout, raw_fence)
  if not raw_timeout then return false, 'session timeout missing' end
  local timeout = num(raw_timeout)
  if not timeout or timeout < 1 then return false, 'session timeout' end
  local fence = 0
  if raw_fence then
    fence = num(raw_fence)
    if not fence then return false, 'session fence' end
  end
  return {timeout, fence, raw_timeout}
end
local function read_session()
  local s = redis.pcall('HMGET', session_key, 'timeout', 'fence')
  if s.err then return false, 'session is not a hash' end
  if not s[1] and redis.call('EXISTS', session_key) == 0 then return nil end
  return session_record(s[1], s[2])
end
local function load_session()
  local all = redis.pcall('HGETALL', session_key)
  if all.err then return false, 'session is not a hash' end
  if #all == 0 then return nil end
  local raw_timeout, raw_fence
  for i = 1, #all, 2 do
    local field = all[i]
    if field == 'timeout' then
      raw_timeout = all[i + 1]
      if raw_fence then break end
    elseif field == 'fence' then
      raw_fence = all[i + 1]
      if raw_timeout then break end
    end
  end
  local session, what = session_record(raw_timeout, raw_fence)
  if session then session[4] = all end
  return session, what
end
local function check_session()
  local session, what = load_session()
  if session == false then
    redis.call('DEL', session_key)
    return nil, corrupt(what, 'the session')
  end
  return session
end
local function slide(timeout_ms)
  local ttl = timeout_ms
  local lock_ttl = redis.call('PTTL', lock_key)
  if lock_ttl > ttl then ttl = lock_ttl end
  redis.call('PEXPIRE', session_key, int(ttl))
end
local function holds(token)
  local current = redis.pcall('HGET', lock_key, 'token')
  return type(current) == 'string' and current == token
end
local function unlock(channel, token, sharded)
  redis.call('DEL', lock_key)
  publish(channel, token, sharded)
end
