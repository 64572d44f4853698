-- Exclusive acquire-and-load. Returns {2, holderToken, lockAgeMicroseconds} when locked; {1} when missing (nothing
-- taken); {1, token} when missing and now locked by the caller; {0, token, HGETALL session, timeoutMs} when loaded and
-- locked; an error answer (nothing taken, the corrupt record deleted) when a stored number is not valid.
-- The token is max(last token + 1, server time in µs): it only grows, also for a session never stored (no key is kept
-- for it) and after a lost lock.
-- Cached loads (redis.cached): ARGV[5] is the version of the session the caller holds ('' for none); the loaded answer
-- carries a 5th element, the version of its items, and an empty item list when that is the held one.
redis.replicate_commands()
--! include redis.prologue
--! include redis.holder
--! include redis.cached
local lock_ttl_ms = ARGV[1]
local create = ARGV[2] == '1' -- lock a missing session
local owner = ARGV[3] -- the nonce the store chose for this call (release-by-owner frees what it took)
local holder = ARGV[4] or '' -- the caller's endpoint, kept in the lock so that waiters can name it ('' : none)
local held = ARGV[5] or '' -- the version of the session the caller holds (cached loads)
local now = server_now()
local lock, lock_error = check_lock()
if lock_error then return lock_error end
if lock then
  return {2, lock[3], now - lock[2], lock_holder()}
end
end_if_due()
local session, session_error = check_cached_session(held)
if session_error then return session_error end
if not session and not create then
  return {1}
end
local token = now
if session and session[2] + 1 > token then token = session[2] + 1 end
token = int(token)
if holder ~= '' then redis.call('HSET', lock_key, 'token', token, 'at', int(now), 'owner', owner, 'holder', holder)
else redis.call('HSET', lock_key, 'token', token, 'at', int(now), 'owner', owner) end
redis.call('PEXPIRE', lock_key, lock_ttl_ms)
if not session then
  return {1, token}
end
if session[5] ~= '' then redis.call('HSET', session_key, 'fence', token, 'verf', token)
else redis.call('HSET', session_key, 'fence', token) end
redis.call('PEXPIRE', session_key, int(math.max(session[1], tonumber(lock_ttl_ms))))
track_end()
return {0, token, session[4], session[3], session[5]}
