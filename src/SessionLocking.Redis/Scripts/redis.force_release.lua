-- Force-release of one holder's lock (its age reached the execution timeout): deletes the lock only while it is still
-- that holder's. Returns 1, or 0 when that lock was gone.
--! include redis.fenced
unlock(channel, token, sharded)
return 1
