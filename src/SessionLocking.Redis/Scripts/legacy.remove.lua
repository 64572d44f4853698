-- Remove (abandon). 1 | 0 when not ours.
--! include legacy.fenced
redis.call('DEL', data_key, timeout_key)
unlock(channel, value, sharded)
return 1
