-- Fenced remove (abandon). Deletes the session and the lock; tokens of a re-created session keep growing by the
-- server-time floor. Returns 1, or 0 when the token is not the current lock.
--! include redis.fenced
redis.call('DEL', session_key)
unlock(channel, token, sharded)
return 1
