-- The V5 layout: data and timeout are strings.
local layout = 'string'
local function read_timeout() return redis.call('GET', timeout_key) end
local function write_timeout(sec) redis.call('SET', timeout_key, sec, 'EX', sec) end
local function exists() return redis.call('EXISTS', data_key) == 1 end
local function load() return redis.call('GET', data_key) end
