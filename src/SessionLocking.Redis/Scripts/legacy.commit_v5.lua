-- V5 write-back, step 2. 1 | 0 when not ours | 2 when a stored session vanished under its holder (released, nothing written).
--! include legacy.prologue
local value = ARGV[2]
local timeout_sec = ARGV[3]
local channel = ARGV[4]
local sharded = ARGV[5] == '1' -- publish with SPUBLISH
local collection = ARGV[6] -- the whole SessionStateItemCollection
local is_new = ARGV[7] == '1'
if redis.call('GET', lock_key) ~= value then return 0 end
if not is_new and not exists() then
  unlock(channel, value, sharded)
  return 2
end
redis.call('SET', data_key, collection, 'EX', timeout_sec)
write_timeout(timeout_sec)
unlock(channel, value, sharded)
return 1
