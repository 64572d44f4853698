-- Shared load, no lock (ARGV: cached loads, below). Returns {2, holderToken, lockAgeMicroseconds, holder} while a
-- writer holds the lock; {1} when missing; {0, HGETALL session, timeoutMs} when loaded (and the expiry slid); an error answer (the corrupt record
-- deleted, nothing slid) when a stored number is not valid.
-- Cached loads (redis.cached): ARGV[1] is the version of the session the caller holds ('' or none); the loaded answer
-- carries a 4th element, the version of its items, and an empty item list when that is the held one.
redis.replicate_commands()
--! include redis.prologue
--! include redis.holder
--! include redis.cached
local held = ARGV[1] or ''
local lock, lock_error = check_lock()
if lock_error then return lock_error end
if lock then
  return {2, lock[3], server_now() - lock[2], lock_holder()}
end
end_if_due()
local session, session_error = check_cached_session(held)
if session_error then return session_error end
if not session then
  return {1}
end
-- No lock is held (checked above), so the session's own timeout is its TTL.
redis.call('PEXPIRE', session_key, session[3])
track_end()
return {0, session[4], session[3], session[5]}
