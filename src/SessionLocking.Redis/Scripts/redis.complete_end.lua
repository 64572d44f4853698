-- The end was raised: deletes the ended key and its index entry, only while ARGV[1] is still its claim (a claimer whose
-- lease ran out may not delete what another claimed since). Returns 1, or 0 when it was not.
--! include redis.prologue
if redis.call('HGET', ended_key, 'claim') ~= ARGV[1] then
  return 0
end
redis.call('DEL', ended_key)
redis.call('ZREM', ends_key, ended_key)
return 1
