#!lua flags=no-writes
--[[ list_dead: a page of the dead set, newest first.
  KEYS[1] dead zset  relay:{q}:dead   score = dead-lettered at (ms)
  KEYS[2] jobs hash  relay:{q}:jobs   KEYS[3] run hash relay:{q}:run   KEYS[4] err hash relay:{q}:err
  ARGV[1] offset     ARGV[2] page size (≤ 1000)
  Returns: {total, id, envelope ('' missing), run ('' none), last error ('' none), dead_at_ms, ...} ]]
local offset, size = tonumber(ARGV[1]), tonumber(ARGV[2])
local page = redis.call('ZREVRANGE', KEYS[1], offset, offset + size - 1, 'WITHSCORES')
local reply = {redis.call('ZCARD', KEYS[1])}
for i = 1, #page, 2 do
  local id = page[i]
  reply[#reply + 1] = id
  reply[#reply + 1] = redis.call('HGET', KEYS[2], id) or ''
  reply[#reply + 1] = redis.call('HGET', KEYS[3], id) or ''
  reply[#reply + 1] = redis.call('HGET', KEYS[4], id) or ''
  reply[#reply + 1] = page[i + 1]
end
return reply
