-- Shared load, no more ARGV. {2, holder} while a writer holds the lock | {1} | {0, data, timeoutSeconds} | a corrupt error.
--! include legacy.prologue
local holder, lock_error = lock_value()
if lock_error then return lock_error end
if holder then
  slide()
  return {2, holder}
end
local sec, what = session_timeout()
if not sec then return corrupt(what) end
if not exists() then return {1} end
expire(sec)
return {0, load(), sec}
