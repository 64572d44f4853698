-- Fenced abandon while ends are tracked (instead of redis.remove): applies the request's last changes, then the session
-- becomes its ended key, unclaimed (score 0), and the lock is released. ARGV[4] is the number n of removed item fields,
-- ARGV[5 .. 4+n] those fields, then item field/value pairs to set ('i:' + name). Returns 1, or 0 when the token is not
-- the current lock.
--! include redis.fenced
--! include shared.hash_changes
--! include redis.ends
if redis.call('EXISTS', session_key) == 1 then
  hash_changes(session_key, 5, 4 + tonumber(ARGV[4]))
  end_session('abandoned', 0)
end
redis.call('DEL', session_key)
unlock(channel, token, sharded)
return 1
