-- The members of the ends index (KEYS[1]) that are due by the server's clock: sessions past their expiry, unclaimed
-- ends and ends whose claim's lease ran out; at most ARGV[1]. Reads only; each is claimed by redis.claim_end.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
