-- The V4 layout: data and timeout are hashes.
local layout = 'hash'
local function read_timeout() return redis.call('HGET', timeout_key, 'SessionTimeout') end
local function write_timeout(sec)
  redis.call('HSET', timeout_key, 'SessionTimeout', sec)
  redis.call('EXPIRE', timeout_key, sec)
end
local function exists() return redis.call('EXISTS', data_key) == 1 or redis.call('EXISTS', timeout_key) == 1 end
local function load() return redis.call('HGETALL', data_key) end
