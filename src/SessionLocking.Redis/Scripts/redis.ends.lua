-- Session_End (docs/redis-protocol.md). KEYS[3], the ends index, and KEYS[4], the session's ended key, are given only
-- while ends are tracked (an OnSessionEnd handler is registered); without them nothing here runs or costs anything.
-- The index is a sorted set: member the session key, score the server time (ms) at which the session expires unless
-- slid; member an ended key, score 0 while its end is unclaimed, else when its claim's lease runs out.
-- track_end(): after a script set the session's expiry, records that instant in the index and keeps the hash an
--   END_GRACE_MS longer, so that its items are still there when its end is raised.
local ends_key = KEYS[3]
local ended_key = KEYS[4]
local END_GRACE_MS = 600000
local ends_now -- one TIME per script: end_if_due() and track_end() both need it
local function now_ms()
  if not ends_now then
    local t = redis.call('TIME')
    ends_now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return ends_now
end
local function track_end()
  if not ends_key then return end
  local ttl = redis.call('PTTL', session_key)
  if ttl < 0 then return end
  redis.call('ZADD', ends_key, now_ms() + ttl, session_key)
  redis.call('PEXPIRE', session_key, ttl + END_GRACE_MS)
end
-- end_session(reason, score): the session's hash becomes its ended key (so its id never hands these items to a request
--   again), waiting in the index with that score. False when an earlier end of the same id is still being raised.
local function end_session(reason, score)
  if redis.call('EXISTS', ended_key) == 1 then return false end
  redis.call('RENAME', session_key, ended_key)
  redis.call('HSET', ended_key, 'reason', reason)
  redis.call('PEXPIRE', ended_key, END_GRACE_MS)
  redis.call('ZREM', ends_key, session_key)
  redis.call('ZADD', ends_key, score, ended_key)
  return true
end
-- slid_untracked(due): true when the session's expiry is not the one track_end() set with that due time (it keeps the
--   two a grace apart, to the millisecond): a server without a handler (during a rolling deployment that adds one) used
--   the session since and slid it without recording it here. The index's due time is stale then, not a sign of
--   idleness: the real expiry is recorded again, with the grace, and the session is not ended.
local function slid_untracked(due)
  local ttl = redis.call('PTTL', session_key)
  if ttl < 0 or math.abs(ttl - (due - now_ms() + END_GRACE_MS)) <= 1000 then return false end
  redis.call('ZADD', ends_key, now_ms() + ttl, session_key)
  redis.call('PEXPIRE', session_key, ttl + END_GRACE_MS)
  return true
end
-- end_if_due(): a session past its expiry by the index is ended here (unclaimed), before a request could load or slide it:
--   a request arriving after the timeout gets a new session, never the old items, whether a sweep ran yet or not.
local function end_if_due()
  if not ends_key then return end
  local due = redis.call('ZSCORE', ends_key, session_key)
  if due and tonumber(due) <= now_ms() and redis.call('EXISTS', session_key) == 1 and not slid_untracked(tonumber(due)) then
    if not end_session('timeout', 0) then redis.call('DEL', session_key) end
  end
end
