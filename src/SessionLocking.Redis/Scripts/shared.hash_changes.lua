-- hash_changes(key, first, last_removed): deletes the fields ARGV[first .. last_removed], then sets the field/value
--   pairs from ARGV[last_removed + 1] to the end; both in chunks of 1,000 arguments (an even number, so pairs never
--   split), because Lua's unpack has a limit.
local function hash_changes(key, first, last_removed)
  while first <= last_removed do
    local upto = math.min(first + 999, last_removed)
    redis.call('HDEL', key, unpack(ARGV, first, upto))
    first = upto + 1
  end
  while first <= #ARGV do
    local upto = math.min(first + 999, #ARGV)
    redis.call('HSET', key, unpack(ARGV, first, upto))
    first = upto + 1
  end
end
