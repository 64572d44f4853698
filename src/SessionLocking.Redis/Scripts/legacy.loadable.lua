-- loadable(): how a load starts, for the acquire and the shared load alike: {2, holder} (the session slid) while a
--   writer holds the lock, or a corrupt error; else nil and the session's timeout in seconds.
local function loadable()
  local holder, lock_error = lock_value()
  if lock_error then return lock_error end
  if holder then
    slide()
    return {2, holder}
  end
  local sec, what = session_timeout()
  if not sec then return corrupt(what) end
  return nil, sec
end
