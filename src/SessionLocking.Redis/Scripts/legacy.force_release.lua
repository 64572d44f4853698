-- Force-release of one holder's lock. 1 | 0.
--! include legacy.prologue
local holder = ARGV[2] -- the holder's value; '' for a holder whose value is not a positive integer
local channel = ARGV[3]
local sharded = ARGV[4] == '1' -- publish with SPUBLISH
if type_of(lock_key) ~= 'string' then return 0 end
local v = redis.call('GET', lock_key)
local match
if holder == '' then
  match = not string.find(v, '^[1-9]%d*$') or #v > 19 or (#v == 19 and v > '9223372036854775807')
else
  match = v == holder
end
if not match then return 0 end
unlock(channel, v, sharded)
return 1
