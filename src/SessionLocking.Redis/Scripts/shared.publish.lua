-- publish(): the release message on the session's channel: SPUBLISH when the caller says its waiters subscribe to
--   sharded channels (in a cluster it stays on the shard of the session's slot), else PUBLISH (broadcast to every
--   node of a cluster). A SPUBLISH the server refuses falls back to PUBLISH, so a release never fails for it.
local function publish(channel, message, sharded)
  if sharded then
    local sent = redis.pcall('SPUBLISH', channel, message)
    if type(sent) == 'number' then return end
  end
  redis.call('PUBLISH', channel, message)
end
