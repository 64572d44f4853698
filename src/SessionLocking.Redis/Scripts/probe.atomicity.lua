-- The atomicity probe, run once at connect on Garnet only (GarnetAtomicityCheck): while this script runs, another
-- connection keeps writing reader_key. A server that runs scripts atomically (Redis; Garnet with
-- --lua-transaction-mode true) holds that write until the script ends, so the script never sees it and answers 0;
-- Garnet without the flag lets it in, the script sees it and answers 1 at once.
local script_key = KEYS[1]
local reader_key = KEYS[2]
local spin_us = tonumber(ARGV[1]) -- how long to wait for the other connection's write
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end
redis.call('DEL', reader_key) -- a write that landed before the script started proves nothing
redis.call('SET', script_key, '1', 'PX', 10000)
local start = now()
local seen = 0
while now() - start < spin_us do
  if redis.call('EXISTS', reader_key) == 1 then
    seen = 1
    break
  end
end
redis.call('DEL', script_key)
return seen
