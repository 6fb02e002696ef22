#!lua flags=allow-oom
--[[ extend: push the lease deadline of jobs the caller still holds to Redis now + lease.
  KEYS[1] inflight zset  relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[2] run hash       relay:{q}:run       id -> "attempts token started_ms crashes"
  ARGV[1] lease (ms)     ARGV[2..] pairs: id, claim token
  Returns: {code per job} 1 extended | -2 stale: lease lost or token superseded ]]
local ids = {}
for i = 2, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local runs = redis.call('HMGET', KEYS[2], unpack(ids))
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local z, reply = {}, {}
for i, id in ipairs(ids) do
  local token = runs[i] and string.match(runs[i], '^%d+ (%d+) ')
  if scores[i] and token == ARGV[1 + 2 * i] then
    z[#z + 1] = deadline; z[#z + 1] = id; reply[i] = 1
  else
    reply[i] = -2
  end
end
if #z > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(z)) end
return reply
