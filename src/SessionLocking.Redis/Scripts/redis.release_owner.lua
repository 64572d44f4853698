-- Release by owner: frees a lock that an acquire the store stopped waiting for may have taken. Deletes the lock only
-- while its owner is that acquire's nonce, and publishes. Returns 1, or 0 when no lock of that owner exists (the
-- acquire took nothing, or it was released already).
--! include redis.prologue
local owner = ARGV[1]
local channel = ARGV[2]
local sharded = ARGV[3] == '1' -- publish with SPUBLISH
local lock = redis.pcall('HMGET', lock_key, 'owner', 'token')
if lock.err or lock[1] ~= owner then
  return 0
end
unlock(channel, lock[2] or '', sharded)
return 1
