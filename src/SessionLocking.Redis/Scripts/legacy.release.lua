-- Release. 1 | 0 when not ours.
--! include legacy.fenced
unlock(channel, value, sharded)
slide()
return 1
