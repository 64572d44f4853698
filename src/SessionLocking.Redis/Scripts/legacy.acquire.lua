-- Acquire. {2, holder} | {1} | {1, value} | {0, value, data, timeoutSeconds} | a corrupt error (nothing taken, the
-- corrupt part dropped).
--! include legacy.prologue
--! include legacy.loadable
local value = ARGV[2] -- our lock value (local ticks, unique per acquisition)
local lock_ttl_ms = ARGV[3]
local create = ARGV[4] == '1' -- lock a missing session
local answer, sec = loadable()
if answer then return answer end
if not exists() then
  if not create then return {1} end
  redis.call('SET', lock_key, value, 'PX', lock_ttl_ms)
  return {1, value}
end
redis.call('SET', lock_key, value, 'PX', lock_ttl_ms)
expire(sec)
return {0, value, load(), sec}
