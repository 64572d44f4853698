-- Version-cached loads (docs/redis-protocol.md, "Cached loads"). The session hash's field 'ver' names the contents of
-- its items: every write-back sets it to a value the writing store never used before (a random per-process prefix and
-- a counter: a version never repeats for other contents, also on a replica that lost the last write), in the same
-- HSET as the items. 'verf' is the fence at which 'ver' was last known to be true: a write-back sets it to its token,
-- and an acquire that finds the version true moves it along with the fence. A store that does not know these fields
-- (an older version during a rolling upgrade) moves the fence alone, so 'ver' stops counting until our next write.
-- check_cached_session(held): check_session(), but when the hash's version is still held (the caller's copy is
--   current) the items are not read: [4] is an empty list. [5] is the version the answer's items have ('' for none:
--   the caller must not keep them).
--   A held version that is not current costs no second HMGET: the first one read 'ver' and 'verf' already, and
--   nothing changes between them and the HGETALL.
local function check_cached_session(held)
  local ver, verf -- nil: not read yet (a missing field reads as false)
  if held ~= '' then
    local s = redis.pcall('HMGET', session_key, 'timeout', 'fence', 'ver', 'verf')
    if not s.err then
      if s[3] == held and s[4] and s[4] == s[2] then
        local session = session_record(s[1], s[2])
        if session then
          session[4] = {}
          session[5] = held
          return session
        end
      end
      ver, verf = s[3], s[4]
    end
  end
  local session, session_error = check_session()
  if session then
    if ver == nil then
      local v = redis.call('HMGET', session_key, 'ver', 'verf')
      ver, verf = v[1], v[2]
    end
    session[5] = (ver and num(verf) == session[2] and session[2] > 0) and ver or ''
  end
  return session, session_error
end
