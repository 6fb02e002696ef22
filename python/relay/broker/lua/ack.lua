#!lua flags=allow-oom
--[[ ack: complete jobs the caller still holds; the claim token fences stale acks.
  KEYS[1] inflight zset  relay:{q}:inflight
  KEYS[2] run hash       relay:{q}:run       id -> "attempts token started_ms crashes"
  KEYS[3] jobs hash      relay:{q}:jobs
  KEYS[4] err hash       relay:{q}:err
  KEYS[5] done zset      relay:{q}:done      score = finished (ms, Redis TIME)
  KEYS[6] stats hash     relay:{q}:stats
  KEYS[7] events stream  relay:{q}:events
  ARGV[1] completed jobs kept (count, 0 = none)  ARGV[2] completed jobs kept (max age, ms)
  ARGV[3] events stream cap (0 = no events)     ARGV[4..] pairs: id, claim token
  Returns: {code per job} 1 acked | 2 already acked with this token (a resend), nothing changed
         | -2 stale: lease lost or token superseded, nothing changed ]]
local ids, seen = {}, {}
for i = 4, #ARGV, 2 do ids[#ids + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local runs = redis.call('HMGET', KEYS[2], unpack(ids))
local ok, reply = {}, {}
for i, id in ipairs(ids) do
  local token = runs[i] and string.match(runs[i], '^%d+ (%d+) ')
  if scores[i] and token == ARGV[3 + 2 * i] and not seen[id] then
    ok[#ok + 1] = id; reply[i] = 1; seen[id] = true
  elseif token == ARGV[3 + 2 * i] and not seen[id] and redis.call('ZSCORE', KEYS[5], id) then
    reply[i] = 2  -- this very claim was acked before (a resend after a lost reply): done
  else
    reply[i] = -2
  end
end
if #ok == 0 then return reply end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREM', KEYS[1], unpack(ok))
local keep, max_age = tonumber(ARGV[1]), tonumber(ARGV[2])
local gone = ok
if keep > 0 then
  local z = {}
  for _, id in ipairs(ok) do z[#z + 1] = now; z[#z + 1] = id end
  redis.call('ZADD', KEYS[5], unpack(z))
  -- Amortised trim, bounded per call: the oldest beyond the count, then those past the age.
  local over = math.min(redis.call('ZCARD', KEYS[5]) - keep, 1000)
  gone = {}
  if over > 0 then
    gone = redis.call('ZRANGE', KEYS[5], 0, over - 1)
    redis.call('ZREMRANGEBYRANK', KEYS[5], 0, over - 1)
  end
  local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - max_age, 'LIMIT', 0, 1000)
  if #old > 0 then
    redis.call('ZREM', KEYS[5], unpack(old))
    for _, id in ipairs(old) do gone[#gone + 1] = id end
  end
end
if #gone > 0 then
  redis.call('HDEL', KEYS[3], unpack(gone))
  redis.call('HDEL', KEYS[2], unpack(gone))
  redis.call('HDEL', KEYS[4], unpack(gone))
end
redis.call('HINCRBY', KEYS[6], 'completed', #ok)
if tonumber(ARGV[3]) > 0 then
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', ARGV[3], '*', 'k', 'completed', 'n', #ok,
    'ids', table.concat(ok, ' ', 1, math.min(#ok, 50)))
end
return reply
