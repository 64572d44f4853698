-- Keep-alive: slides the expiry of a stored session (not a corrupt one); no ARGV. Returns 1, or 0 when missing.
--! include redis.prologue
end_if_due()
local session = read_session()
if session then
  slide(session[1])
  track_end()
  return 1
end
return 0
