#!lua flags=allow-oom
--[[ claim: lease up to N ready jobs, highest priority first, FIFO within a priority; within a
  priority, groups take turns (deficit round-robin by weight, docs/decisions/0053-fair-groups.md).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] inflight zset   relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[12] jobs hash       relay:{q}:jobs      id -> envelope
  KEYS[13] run hash        relay:{q}:run       id -> "attempts token started_ms crashes"
  KEYS[14] paused flag     relay:{q}:paused
  KEYS[15] bucket hash     relay:{q}:bucket    rate (tokens/s), burst, tokens, ts (ms)
  KEYS[16] stats hash      relay:{q}:stats     field tokens = last claim token issued;
                           gready = grouped ready jobs
  KEYS[17] events stream   relay:{q}:events
  KEYS[18] wake list       relay:{q}:wake
  ARGV[1] max jobs (1..1000)   ARGV[2] lease (ms)   ARGV[3] events stream cap (0 = no events)
  ARGV[4] key prefix relay:{q}: for the group keys derived from it:
    gring:<p> zset  groups with claimable jobs at priority p, scored by turn (lowest = next)
    gq:<p>:<g> list a group's ready jobs   g:<g> hash limits w cap rate burst, bucket tokens ts,
    in flight n, park = cap | rate   gdue zset rate-parked groups by next token (ms)
    gin hash id -> group while in flight   gturn hash round-robin state   groups zset backlog
  Ungrouped jobs (the ready lists) take one turn among the groups of their priority.
  Returns: {1, now_ms, id, envelope, attempts, token, ...} claimed jobs ({1, now_ms}: none)
         | {-1} paused | {-6, wait_ms} rate limited: the next token is due in wait_ms (the
           queue's, or a group's when nothing else is claimable)
  An id whose envelope is missing comes back with envelope '' so the caller dead-letters it. ]]
if redis.call('EXISTS', KEYS[14]) == 1 then return {-1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[1])
local pre = ARGV[4]
local R, due = {}, pre .. 'gdue'
for k = 1, 10 do R[k] = pre .. 'gring:' .. (10 - k) end
local grouped = redis.call('EXISTS', due, unpack(R)) > 0
-- Nothing ready (an idle queue): one EXISTS answers it, not ten LPOPs.
if not grouped and redis.call('EXISTS', unpack(KEYS, 1, 10)) == 0 then return {1, now} end

local function ring_add(k, g)
  if not redis.call('ZSCORE', R[k], g) then
    local tail = redis.call('ZRANGE', R[k], -1, -1, 'WITHSCORES')
    redis.call('ZADD', R[k], (tonumber(tail[2]) or 0) + 1, g)
  end
end
if grouped then
  -- Rate-limited groups whose next token is due go back into their rings (bounded per call).
  for _, g in ipairs(redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, 100)) do
    redis.call('ZREM', due, g)
    redis.call('HDEL', pre .. 'g:' .. g, 'park')
    for k = 1, 10 do
      if redis.call('LLEN', pre .. 'gq:' .. (10 - k) .. ':' .. g) > 0 then ring_add(k, g) end
    end
  end
  grouped = redis.call('EXISTS', unpack(R)) > 0
  if not grouped and redis.call('EXISTS', unpack(KEYS, 1, 10)) == 0 then
    local head = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
    if #head == 0 then return {1, now} end
    return {-6, math.max(1, tonumber(head[2]) - now)}
  end
end

local rate, burst, tokens, last = unpack(redis.call('HMGET', KEYS[15], 'rate', 'burst', 'tokens', 'ts'))
local cut = false  -- the limiter granted fewer jobs than are ready and were asked for
local granted
if rate then
  local avail = tonumber(redis.call('HGET', KEYS[16], 'gready')) or 0
  for k = 1, 10 do avail = avail + redis.call('LLEN', KEYS[k]) end
  want = math.min(want, avail)
  if want == 0 then return {1, now} end
  -- Same float operations, in the same order, as relay._core.bucket_take.
  rate, burst = tonumber(rate), tonumber(burst)
  tokens, last = tonumber(tokens) or burst, tonumber(last) or now
  local elapsed = now - last
  if elapsed < 0 then elapsed = 0 end
  tokens = math.min(burst, tokens + (elapsed * rate) / 1000.0)
  granted = math.min(want, math.floor(tokens))
  tokens = tokens - granted
  redis.call('HSET', KEYS[15], 'tokens', string.format('%.17g', tokens), 'ts', math.max(last, now))
  if granted < 1 then return {-6, math.ceil(((1.0 - tokens) * 1000.0) / rate)} end
  cut = granted < want
  want = granted
end

local ids, gof = {}, {}
local function park(g, why, at)
  redis.call('HSET', pre .. 'g:' .. g, 'park', why)
  for k = 1, 10 do redis.call('ZREM', R[k], g) end
  if at then redis.call('ZADD', due, at, g) end
end
-- One turn of group g at ring k: up to weight - served jobs, within its cap and its bucket.
-- Returns the jobs it has served in this turn so far, and whether its turn is over.
local function visit(k, g, served)
  local gk = pre .. 'g:' .. g
  local c = redis.call('HMGET', gk, 'w', 'cap', 'rate', 'burst', 'tokens', 'ts', 'n')
  local w, cap, grate, n = tonumber(c[1]) or 1, tonumber(c[2]), tonumber(c[3]), tonumber(c[7]) or 0
  if served >= w then
    local tail = redis.call('ZRANGE', R[k], -1, -1, 'WITHSCORES')
    redis.call('ZADD', R[k], tonumber(tail[2]) + 1, g)
    return 0, true
  end
  if cap and n >= cap then park(g, 'cap'); return 0, true end
  local take = math.min(w - served, want - #ids)
  if cap then take = math.min(take, cap - n) end
  local gtok, glast, gburst
  if grate then  -- the group's bucket: the same arithmetic as the queue's
    gburst = tonumber(c[4])
    gtok, glast = tonumber(c[5]) or gburst, tonumber(c[6]) or now
    gtok = math.min(gburst, gtok + (math.max(0, now - glast) * grate) / 1000.0)
    take = math.min(take, math.floor(gtok))
    if take < 1 then
      redis.call('HSET', gk, 'tokens', string.format('%.17g', gtok), 'ts', math.max(glast, now))
      park(g, 'rate', now + math.ceil(((1.0 - gtok) * 1000.0) / grate))
      return 0, true
    end
  end
  local lk = pre .. 'gq:' .. (10 - k) .. ':' .. g
  local got = redis.call('LPOP', lk, take) or {}
  for _, id in ipairs(got) do ids[#ids + 1] = id; gof[#ids] = g end
  if #got > 0 then
    n = redis.call('HINCRBY', gk, 'n', #got)
    redis.call('ZINCRBY', pre .. 'groups', -#got, g)
    redis.call('HINCRBY', KEYS[16], 'gready', -#got)
  end
  served = served + #got
  if grate then
    gtok = gtok - #got
    redis.call('HSET', gk, 'tokens', string.format('%.17g', gtok), 'ts', math.max(glast, now))
  end
  if redis.call('LLEN', lk) == 0 then redis.call('ZREM', R[k], g); return 0, true end
  if cap and n >= cap then park(g, 'cap'); return 0, true end
  if grate and gtok < 1 then
    park(g, 'rate', now + math.ceil(((1.0 - gtok) * 1000.0) / grate)); return 0, true
  end
  if served >= w then
    local tail = redis.call('ZRANGE', R[k], -1, -1, 'WITHSCORES')
    redis.call('ZADD', R[k], tonumber(tail[2]) + 1, g)
    return 0, true
  end
  return served, false  -- the batch is full mid-turn: the group keeps the head
end
-- Priority k with groups: turns round its ring; the ungrouped list is one more member.
local function fair(k)
  local p = 10 - k
  local turn = pre .. 'gturn'
  local plain = redis.call('LLEN', KEYS[k])
  local st = redis.call('HMGET', turn, 'c' .. p, 'u' .. p)
  local served, cur = string.match(st[1] or '', '^(%d+) (.*)$')
  served, cur = tonumber(served) or 0, cur or ''
  local u = tonumber(st[2]) or 0
  while #ids < want do
    local head = redis.call('ZRANGE', R[k], 0, 0)
    if plain > 0 and (#head == 0 or u >= redis.call('ZCARD', R[k])) then
      local got = redis.call('LPOP', KEYS[k], #head == 0 and want - #ids or 1) or {}
      for _, id in ipairs(got) do ids[#ids + 1] = id end
      plain, u = #got > 0 and plain - #got or 0, 0
    elseif #head == 0 then
      break
    else
      if head[1] ~= cur then cur, served = head[1], 0 end
      local over
      served, over = visit(k, cur, served)
      if over then u = u + 1 end
    end
  end
  redis.call('HSET', turn, 'c' .. p, served .. ' ' .. cur, 'u' .. p, u)
end

if grouped then
  for k = 1, 10 do
    if #ids >= want then break end
    if redis.call('EXISTS', R[k]) == 1 then
      fair(k)
    else
      local got = redis.call('LPOP', KEYS[k], want - #ids)
      if got then for _, id in ipairs(got) do ids[#ids + 1] = id end end
    end
  end
  if granted and #ids < granted then  -- caps and group limits left tokens unused: give back
    redis.call('HSET', KEYS[15], 'tokens', string.format('%.17g', tokens + granted - #ids))
  end
  if #ids == 0 then
    local head = redis.call('ZRANGE', due, 0, 0, 'WITHSCORES')
    if #head == 0 then return {1, now} end
    return {-6, math.max(1, tonumber(head[2]) - now)}
  end
else
  for k = 1, 10 do
    local got = redis.call('LPOP', KEYS[k], want - #ids)
    if got then
      for _, id in ipairs(got) do ids[#ids + 1] = id end
      if #ids >= want then break end
    end
  end
  if #ids == 0 then return {1, now} end
end

local envs = redis.call('HMGET', KEYS[12], unpack(ids))
local runs = redis.call('HMGET', KEYS[13], unpack(ids))
local base = redis.call('HINCRBY', KEYS[16], 'tokens', #ids) - #ids
local deadline = now + tonumber(ARGV[2])
local reply, z, h, gh = {1, now}, {}, {}, {}
for i, id in ipairs(ids) do
  local attempts, crashes = 0, 0
  if runs[i] then
    local a, _, _, c = string.match(runs[i], '^(%d+) (%d+) (%d+) (%d+)$')
    attempts, crashes = tonumber(a) or 0, tonumber(c) or 0
  end
  attempts = attempts + 1
  local token = base + i
  z[#z + 1] = deadline; z[#z + 1] = id
  h[#h + 1] = id; h[#h + 1] = attempts .. ' ' .. token .. ' ' .. now .. ' ' .. crashes
  reply[#reply + 1] = id; reply[#reply + 1] = envs[i] or ''
  reply[#reply + 1] = attempts; reply[#reply + 1] = token
  if gof[i] then gh[#gh + 1] = id; gh[#gh + 1] = gof[i] end
end
redis.call('ZADD', KEYS[11], unpack(z))
redis.call('HSET', KEYS[13], unpack(h))
if #gh > 0 then redis.call('HSET', pre .. 'gin', unpack(gh)) end
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
