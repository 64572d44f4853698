-- The start of the scripts that bring our lock value (release, remove): nothing happens (answer 0) unless it holds the lock.
--! include legacy.prologue
local value = ARGV[2]
local channel = ARGV[3]
local sharded = ARGV[4] == '1' -- publish with SPUBLISH
if redis.call('GET', lock_key) ~= value then return 0 end
