-- Session_End not tracked (no OnSessionEnd handler: the scripts get KEYS[1..2] only): composed in place of redis.ends,
-- it keeps of that file only what the request scripts call, as no-ops, so that Redis builds none of its helpers and
-- locals on every call (docs/redis-protocol.md, "Session ends").
local function end_if_due() end
local function track_end() end
