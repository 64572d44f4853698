-- Claims one due end for ARGV[2] ms under the claim nonce ARGV[3]; ARGV[1] is the index member the caller found due.
-- A live session is ended only when it is really idle: still due by the index (not slid since, by this server or by one
-- without a handler: slid_untracked), stored, and no lock held
-- (a request running keeps it alive: looked at again when that lock expires). Returns {reason, HGETALL ended}, or nil
-- when there is nothing to raise (slid, locked, gone, or claimed by another server meanwhile).
redis.replicate_commands()
--! include redis.prologue
local member = ARGV[1]
local lease_ms = tonumber(ARGV[2])
local claim = ARGV[3]
local now = now_ms()
local score = redis.call('ZSCORE', ends_key, member)
if not score or tonumber(score) > now then
  return nil
end
if member == ended_key then
  if redis.call('EXISTS', ended_key) == 0 then
    redis.call('ZREM', ends_key, member)
    return nil
  end
else
  if redis.call('EXISTS', session_key) == 0 then
    redis.call('ZREM', ends_key, member)
    return nil
  end
  if slid_untracked(tonumber(score)) then
    return nil
  end
  local lock_ttl = redis.call('PTTL', lock_key)
  if lock_ttl > 0 then
    redis.call('ZADD', ends_key, now + lock_ttl, member)
    return nil
  end
  if not end_session('timeout', 0) then
    redis.call('ZADD', ends_key, now + lease_ms, member)
    return nil
  end
end
redis.call('HSET', ended_key, 'claim', claim)
redis.call('ZADD', ends_key, now + lease_ms, ended_key)
return {redis.call('HGET', ended_key, 'reason'), redis.call('HGETALL', ended_key)}
