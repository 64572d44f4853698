-- V4 write-back (partial). 1 | 0 | 2 as legacy.commit_v5, also when a key was replaced by one of another type since the
-- acquire (dropped: HSET on it would fail half-way).
--! include legacy.prologue
local value = ARGV[2]
local timeout_sec = ARGV[3]
local channel = ARGV[4]
local sharded = ARGV[5] == '1' -- publish with SPUBLISH
local is_new = ARGV[6] == '1'
local first = 8 -- ARGV[8 .. 7+n]: the n removed item names, then name/value pairs to set
local last_removed = 7 + tonumber(ARGV[7])
if redis.call('GET', lock_key) ~= value then return 0 end
local data_type, timeout_type = type_of(data_key), type_of(timeout_key)
if (data_type ~= 'none' and data_type ~= 'hash') or (timeout_type ~= 'none' and timeout_type ~= 'hash') then
  redis.call('DEL', data_key, timeout_key)
  unlock(channel, value, sharded)
  return 2
end
if not is_new and not exists() then
  unlock(channel, value, sharded)
  return 2
end
hash_changes(data_key, first, last_removed)
redis.call('EXPIRE', data_key, timeout_sec)
write_timeout(timeout_sec)
unlock(channel, value, sharded)
return 1
