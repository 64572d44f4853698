-- The holder of the lock (issue 22): the lock hash's field 'holder', the endpoint of the request that took it (its
-- route pattern or display name, bounded by the store), set by the acquire itself, so naming it costs no round trip.
-- The acquire and the shared load add it as a fourth element to their answer {2, holderToken, lockAgeMicroseconds}.
-- lock_holder(): that endpoint, or '' when the lock has none (taken by an older version, or without an endpoint).
local function lock_holder()
  local holder = redis.pcall('HGET', lock_key, 'holder')
  if type(holder) ~= 'string' then return '' end
  return holder
end
