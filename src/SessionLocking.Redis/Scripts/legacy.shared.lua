-- Shared load, no more ARGV. {2, holder} while a writer holds the lock | {1} | {0, data, timeoutSeconds} | a corrupt error.
--! include legacy.prologue
--! include legacy.loadable
local answer, sec = loadable()
if answer then return answer end
if not exists() then return {1} end
expire(sec)
return {0, load(), sec}
