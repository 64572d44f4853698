-- The start of the scripts that bring a holder's token (release, remove, force-release): nothing happens (answer 0)
-- unless that token holds the lock.
--! include redis.prologue
local token = ARGV[1]
local channel = ARGV[2]
local sharded = ARGV[3] == '1' -- publish with SPUBLISH
if not holds(token) then
  return 0
end
