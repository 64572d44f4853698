-- Fenced write-back-and-release. Deletes the removed items, sets the changed ones (never the whole session), stores
-- timeout and fence, releases, slides, publishes. Returns 1; 0 (and changes nothing) when the token is not the current
-- lock; 2 when a stored session was evicted or expired under its holder (the lock is released and nothing written, so
-- no partial session appears).
-- The store sends the version fields 'ver' and 'verf' (redis.cached) among the pairs to set, so the items and their
-- version change in one HSET.
--! include redis.prologue
--! include shared.hash_changes
--! include redis.put_items
local token = ARGV[1]
local timeout_ms = ARGV[2]
local channel = ARGV[3]
local sharded = ARGV[4] == '1' -- publish with SPUBLISH
local is_new = ARGV[5] == '1'
local first = 7 -- ARGV[7 .. 6+n]: the n removed item fields, then item field/value pairs to set ('i:' + name)
local last_removed = 6 + tonumber(ARGV[6])
if not holds(token) then
  return 0
end
-- The lock is deleted below, so the session's TTL is its (new) timeout. For a stored session that PEXPIRE also
-- says whether its hash is still there before anything is written (0: evicted or expired under its holder).
if not is_new and redis.call('PEXPIRE', session_key, timeout_ms) == 0 then
  unlock(channel, token, sharded)
  return 2
end
-- A stored hash always holds timeout and fence, so removing items never empties (deletes) it: the expiry stays.
put_items(first, last_removed, timeout_ms, token)
if is_new then
  redis.call('PEXPIRE', session_key, timeout_ms)
end
unlock(channel, token, sharded)
track_end()
return 1
