-- Fenced release without writing. Slides a stored session (not one whose timeout is corrupt); a session locked while
-- missing and never written leaves no key. Returns 1, or 0 when the token is not the current lock.
--! include redis.fenced
unlock(channel, token, sharded)
local session = read_session()
if session then
  redis.call('PEXPIRE', session_key, session[3])
  track_end()
end
return 1
