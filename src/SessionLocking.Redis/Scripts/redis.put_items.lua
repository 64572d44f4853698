-- put_items(first, last_removed, timeout_ms, token): the write-back's changes (ARGV as shared.hash_changes reads them)
--   with the session's timeout and fence. Without removed items (the usual write) the metadata and the pairs go in
--   one HSET (its first 998 pair arguments; any more in hash_changes' chunks). With removed items the metadata is set
--   first, as before: the hash then holds it while the HDEL runs, so removing items never empties (deletes) it and
--   loses its expiry.
local function put_items(first, last_removed, timeout_ms, token)
  if first > last_removed then
    local upto = math.min(last_removed + 998, #ARGV)
    redis.call('HSET', session_key, 'timeout', timeout_ms, 'fence', token, unpack(ARGV, first, upto))
    first = upto + 1
    last_removed = upto
  else
    redis.call('HSET', session_key, 'timeout', timeout_ms, 'fence', token)
  end
  hash_changes(session_key, first, last_removed)
end
