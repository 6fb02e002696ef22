#!lua flags=allow-oom
--[[ extend: push the lease deadline of jobs the caller still holds to Redis now + lease,
  store the progress their handlers reported, and tell which ones are to be cancelled.
  KEYS[1] inflight zset  relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[2] run hash       relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[3] cancel set     relay:{q}:cancel    in-flight ids whose cancel was asked for
  KEYS[4] progress hash  relay:{q}:prog      id -> the last progress reported (JSON)
  KEYS[5] events stream  relay:{q}:events
  ARGV[1] lease (ms)     ARGV[2] events stream cap (0 = no events)
  ARGV[3..] 3 per job: id, claim token, progress (JSON, '' = no news)
  Returns: {code per job} 1 extended | 3 extended, and its cancel was asked for: stop it
         | -2 stale: lease lost or token superseded, nothing changed ]]
local ids = {}
for i = 3, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local runs = redis.call('HMGET', KEYS[2], unpack(ids))
local flags = {}
if redis.call('SCARD', KEYS[3]) > 0 then flags = redis.call('SMISMEMBER', KEYS[3], unpack(ids)) end
local t = redis.call('TIME')
local deadline = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local z, reply, prog, news = {}, {}, {}, {}
for i, id in ipairs(ids) do
  local b = 3 * i
  local token = runs[i] and string.match(runs[i], '^%d+ (%d+) ')
  if scores[i] and token == ARGV[b + 1] then
    z[#z + 1] = deadline; z[#z + 1] = id
    reply[i] = flags[i] == 1 and 3 or 1
    if ARGV[b + 2] ~= '' then
      prog[#prog + 1] = id; prog[#prog + 1] = ARGV[b + 2]
      if #news < 50 then news[#news + 1] = cjson.encode(id) .. ':' .. ARGV[b + 2] end
    end
  else
    reply[i] = -2
  end
end
if #z > 0 then redis.call('ZADD', KEYS[1], 'XX', unpack(z)) end
if #prog > 0 then
  redis.call('HSET', KEYS[4], unpack(prog))
  if tonumber(ARGV[2]) > 0 then
    local list = {}
    for k = 1, #prog, 2 do if #list < 50 then list[#list + 1] = prog[k] end end
    redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[2], '*', 'k', 'progress', 'n', #prog / 2,
      'ids', table.concat(list, ' '), 'p', '{' .. table.concat(news, ',') .. '}')
  end
end
return reply
