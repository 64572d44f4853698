-- V5 write-back, step 1. {0} when not ours | {1, data or false} | {2} when the data is not a string.
--! include legacy.prologue
local value = ARGV[2]
if redis.call('GET', lock_key) ~= value then return {0} end
local t = type_of(data_key)
if t ~= 'none' and t ~= 'string' then return {2} end
return {1, load()}
