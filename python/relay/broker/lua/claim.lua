#!lua flags=allow-oom
--[[ claim: lease up to N ready jobs, highest priority first, FIFO within a priority.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] inflight zset   relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[12] jobs hash       relay:{q}:jobs      id -> envelope
  KEYS[13] run hash        relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[14] paused flag     relay:{q}:paused
  KEYS[15] bucket hash     relay:{q}:bucket    rate (tokens/s), burst, tokens, ts (ms)
  KEYS[16] stats hash      relay:{q}:stats     field tokens = last claim token issued (never
                                                below Redis TIME ms x 1024: see the claim below)
  KEYS[17] events stream   relay:{q}:events
  KEYS[18] wake list       relay:{q}:wake
  ARGV[1] max jobs (1..1000)   ARGV[2] lease (ms)   ARGV[3] events stream cap (0 = no events)
  ARGV[4] worker identity ('' or absent: none), kept as the run record's last field
  Returns: {1, now_ms, id, envelope, attempts, token, ...} claimed jobs ({1, now_ms}: none)
         | {-1} paused | {-6, wait_ms} rate limited: the next token is due in wait_ms
  An id whose envelope is missing comes back with envelope '' so the caller dead-letters it. ]]
if redis.call('EXISTS', KEYS[14]) == 1 then return {-1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[1])
-- Nothing ready (an idle queue): one EXISTS answers it, not ten LPOPs.
if redis.call('EXISTS', unpack(KEYS, 1, 10)) == 0 then return {1, now} end

local rate, burst, tokens, last = unpack(redis.call('HMGET', KEYS[15], 'rate', 'burst', 'tokens', 'ts'))
local cut = false  -- the limiter granted fewer jobs than are ready and were asked for
if rate then
  local avail = 0
  for k = 1, 10 do avail = avail + redis.call('LLEN', KEYS[k]) end
  want = math.min(want, avail)
  if want == 0 then return {1, now} end
  -- Same float operations, in the same order, as relay._core.bucket_take.
  rate, burst = tonumber(rate), tonumber(burst)
  tokens, last = tonumber(tokens) or burst, tonumber(last) or now
  local elapsed = now - last
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(burst, tokens + (elapsed * rate) / 1000.0)
  local granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
  redis.call('HSET', KEYS[15], 'tokens', string.format('%.17g', tokens), 'ts', math.max(last, now))
  if granted < 1 then return {-6, math.ceil(((1.0 - tokens) * 1000.0) / rate)} end
  cut = granted < want
  want = granted
end

local ids = {}
for k = 1, 10 do
  local got = redis.call('LPOP', KEYS[k], want - #ids)
  if got then
    for _, id in ipairs(got) do ids[#ids + 1] = id end
    if #ids >= want then break end
  end
end
if #ids == 0 then return {1, now} end

local envs = redis.call('HMGET', KEYS[12], unpack(ids))
local runs = redis.call('HMGET', KEYS[13], unpack(ids))
-- Claim tokens never repeat, even after a failover to a replica that missed the last claims:
-- the counter is floored at Redis TIME (ms) x 1024, so a new master's tokens start above any
-- token the old one issued (up to 1024 claims per ms; below 2^53 until the year 2248).
local base = math.max(tonumber(redis.call('HGET', KEYS[16], 'tokens')) or 0, now * 1024)
redis.call('HSET', KEYS[16], 'tokens', string.format('%d', base + #ids))
local deadline = now + tonumber(ARGV[2])
local reply, z, h = {1, now}, {}, {}
local who = (ARGV[4] and ARGV[4] ~= '') and (' ' .. ARGV[4]) or ''
for i, id in ipairs(ids) do
  local attempts, crashes = 0, 0
  if runs[i] then
    local a, _, _, c = string.match(runs[i], '^(%d+) (%d+) (%d+) (%d+)')
    attempts, crashes = tonumber(a) or 0, tonumber(c) or 0
  end
  attempts = attempts + 1
  local token = base + i
  z[#z + 1] = deadline; z[#z + 1] = id
  h[#h + 1] = id
  h[#h + 1] = attempts .. ' ' .. string.format('%d', token) .. ' ' .. now .. ' ' .. crashes .. who
  reply[#reply + 1] = id; reply[#reply + 1] = envs[i] or ''
  reply[#reply + 1] = attempts; reply[#reply + 1] = token
end
redis.call('ZADD', KEYS[11], unpack(z))
redis.call('HSET', KEYS[13], unpack(h))
if tonumber(ARGV[3]) > 0 then
  redis.call('XADD', KEYS[17], 'MAXLEN', '~', ARGV[3], '*', 'k', 'claimed', 'n', #ids,
    'ids', table.concat(ids, ' ', 1, math.min(#ids, 50)))
end
-- A full batch, or one the rate limit cut short, leaves work behind: pass the wake-up on to
-- an idle worker (it will claim, or learn when the next token is due).
if (#ids == tonumber(ARGV[1]) or cut) and redis.call('LLEN', KEYS[18]) == 0 then
  redis.call('RPUSH', KEYS[18], '1')
end
return reply
