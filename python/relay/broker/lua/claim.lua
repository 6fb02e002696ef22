#!lua flags=allow-oom
--[[ claim: lease up to N ready jobs, highest priority first, FIFO within a priority; within a
  priority, groups take turns (deficit round-robin by weight, docs/decisions/0053-fair-groups.md).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] inflight zset   relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[12] jobs hash       relay:{q}:jobs      id -> envelope
  KEYS[13] run hash        relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[14] paused flag     relay:{q}:paused
  KEYS[15] bucket hash     relay:{q}:bucket    rate (tokens/s), burst, tokens, ts (ms)
  KEYS[16] stats hash      relay:{q}:stats     field tokens = last claim token issued (never
                                                below Redis TIME ms x 1024: see the claim below);
                                                gready = grouped ready jobs
  KEYS[17] events stream   relay:{q}:events
  KEYS[18] wake list       relay:{q}:wake
  ARGV[1] max jobs (1..1000)   ARGV[2] lease (ms)   ARGV[3] events stream cap (0 = no events)
  ARGV[4] worker identity ('' or absent: none), kept as the run record's last field
  Group keys, derived from the queue's prefix relay:{q}: (KEYS[12] without its "jobs"):
    gring:<p> zset  groups with claimable jobs at priority p, scored by turn (lowest = next)
    gq:<p>:<g> list a group's ready jobs   groups zset ready backlog per group (> 0 only)
    gconf set groups with limits   g:<g> hash (those only) w cap rate burst, bucket tokens ts,
    park = cap | rate   gdue zset rate-parked groups by next token (ms)
    gn hash limited group -> jobs in flight (> 0)   gin hash id -> limited group in flight
    gturn hash round-robin state
  Ungrouped jobs (the ready lists) take one turn among the groups of their priority.
  Returns: {1, now_ms, id, envelope, attempts, token, ...} claimed jobs ({1, now_ms}: none),
           then, when some came from groups, one more element: {id, group, ...} of those
         | {-1} paused | {-6, wait_ms} rate limited: the next token is due in wait_ms (the
           queue's, or a group's when nothing else is claimable)
  An id whose envelope is missing comes back with envelope '' so the caller dead-letters it. ]]
if redis.call('EXISTS', KEYS[14]) == 1 then return {-1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local want = tonumber(ARGV[1])
local pre = string.sub(KEYS[12], 1, -5)  -- relay:{q}:
local R, due = {}, pre .. 'gdue'
-- Grouped jobs ready (the backlog index) or groups waiting for a token: the rings have a say.
local grouped = redis.call('EXISTS', pre .. 'groups', due) > 0
-- Nothing ready (an idle queue): one EXISTS answers it, not ten LPOPs.
if not grouped and redis.call('EXISTS', unpack(KEYS, 1, 10)) == 0 then return {1, now} end
if grouped then for k = 1, 10 do R[k] = pre .. 'gring:' .. (10 - k) end end

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

local ids, gof, gname, taken = {}, {}, {}, 0  -- taken: grouped jobs claimed
-- Jobs of groups with limits are counted: gin (id -> group) and gn (group -> in flight), so
-- their cap holds; other groups' jobs cost no bookkeeping in flight (decision 0053).
local claimed = {}  -- limited group -> jobs claimed by this call (gn is written at the end)
local function park(g, why, at)
  redis.call('HSET', pre .. 'g:' .. g, 'park', why)
  for k = 1, 10 do redis.call('ZREM', R[k], g) end
  if at then redis.call('ZADD', due, at, g) end
end
-- One turn of group g at priority p: up to weight - served jobs (any number when g is alone),
-- within its cap and bucket (only a group in gconf has limits). Returns the jobs served in
-- this turn so far and what becomes of g: 'rotate' (its turn is over), 'drop' (no jobs left
-- at p), 'park' (capped or out of tokens) or 'stay' (the batch is full mid-turn).
local function visit(p, g, served, limited, alone)
  local w, cap, grate, c = 1
  if limited then
    c = redis.call('HMGET', pre .. 'g:' .. g, 'w', 'cap', 'rate', 'burst', 'tokens', 'ts')
    w, cap, grate = tonumber(c[1]) or 1, tonumber(c[2]), tonumber(c[3])
  end
  if alone then w = want end
  if served >= w then return 0, 'rotate' end
  local n = claimed[g] or 0
  if cap then n = n + (tonumber(redis.call('HGET', pre .. 'gn', g)) or 0) end
  if cap and n >= cap then park(g, 'cap'); return 0, 'park' end
  local take = math.min(w - served, want - #ids)
  if cap then take = math.min(take, cap - n) end
  local gtok, glast
  if grate then  -- the group's bucket: the same arithmetic as the queue's
    local gburst = tonumber(c[4])
    gtok, glast = tonumber(c[5]) or gburst, tonumber(c[6]) or now
    gtok = math.min(gburst, gtok + (math.max(0, now - glast) * grate) / 1000.0)
    take = math.min(take, math.floor(gtok))
    if take < 1 then
      redis.call('HSET', pre .. 'g:' .. g, 'tokens', string.format('%.17g', gtok), 'ts', math.max(glast, now))
      park(g, 'rate', now + math.ceil(((1.0 - gtok) * 1000.0) / grate))
      return 0, 'park'
    end
  end
  local got = redis.call('LPOP', pre .. 'gq:' .. p .. ':' .. g, take) or {}
  for _, id in ipairs(got) do ids[#ids + 1] = id; gof[#ids] = limited and g; gname[#ids] = g end
  if limited then claimed[g] = (claimed[g] or 0) + #got end
  taken, served, n = taken + #got, served + #got, n + #got
  if grate then
    gtok = gtok - #got
    redis.call('HSET', pre .. 'g:' .. g, 'tokens', string.format('%.17g', gtok), 'ts', math.max(glast, now))
  end
  if #got < take then return 0, 'drop' end
  if cap and n >= cap then park(g, 'cap'); return 0, 'park' end
  if grate and gtok < 1 then
    park(g, 'rate', now + math.ceil(((1.0 - gtok) * 1000.0) / grate)); return 0, 'park'
  end
  if served >= w then return 0, 'rotate' end
  return served, 'stay'
end
-- Priority k with groups: turns round its ring. The ring's order is fixed (a group joins at
-- the end) and a cursor goes round it: gturn c<p> = "<cursor> <served> <group>", the score
-- of the last group whose turn ended, and how far the turn of the next one (<group>) went.
-- The next turns are read in one ZRANGE after the cursor (wrapping round), with their backlog
-- and whether they have limits; when that is the whole ring it is visited round and round.
-- Nothing is written per turn but the LPOP: drained groups leave in one ZREM.
local function fair(k)
  local p = 10 - k
  local turn, backlog = pre .. 'gturn', pre .. 'groups'
  local plain = redis.call('LLEN', KEYS[k])
  local st = redis.call('HMGET', turn, 'c' .. p, 'u' .. p)
  local at, served, cur = string.match(st[1] or '', '^(%S+) (%d+) (.*)$')
  at, served, cur = tonumber(at) or 0, tonumber(served) or 0, cur or ''
  local u = tonumber(st[2]) or 0
  local heads, sc, hi, whole, dropped, size = {}, {}, 1, false, {}, 0
  local lim, bl, dec = {}, {}, {}  -- per group: has limits, backlog at the read, taken since
  local function flush()
    if #dropped > 0 then redis.call('ZREM', R[k], unpack(dropped)); dropped = {} end
    local keep, gone = {}, {}
    for g, d in pairs(dec) do
      local left = bl[g] - d
      if left > 0 then keep[#keep + 1] = left; keep[#keep + 1] = g else gone[#gone + 1] = g end
    end
    if #keep > 0 then redis.call('ZADD', backlog, unpack(keep)) end
    if #gone > 0 then redis.call('ZREM', backlog, unpack(gone)) end
    dec = {}
  end
  local function read()
    flush()
    local ask = want - #ids
    local r = redis.call('ZRANGE', R[k], '(' .. at, '+inf', 'BYSCORE', 'LIMIT', 0, ask, 'WITHSCORES')
    if #r < 2 * ask then  -- wrap round to the ring's start
      local more = redis.call('ZRANGE', R[k], '-inf', at, 'BYSCORE', 'LIMIT', 0, ask - #r / 2, 'WITHSCORES')
      for _, x in ipairs(more) do r[#r + 1] = x end
    end
    heads, sc, hi = {}, {}, 1
    for i = 1, #r, 2 do heads[#heads + 1] = r[i]; sc[r[i]] = tonumber(r[i + 1]) end
    whole = #heads < ask
    if #heads == 0 then return end
    local s, c = redis.call('ZMSCORE', backlog, unpack(heads)), {}
    if redis.call('EXISTS', pre .. 'gconf') == 1 then
      c = redis.call('SMISMEMBER', pre .. 'gconf', unpack(heads))
    end
    for i, g in ipairs(heads) do bl[g] = tonumber(s[i]) or 0; lim[g] = c[i] == 1 end
    size = whole and #heads or (plain > 0 and redis.call('ZCARD', R[k]) or 0)
  end
  while #ids < want do
    if hi > #heads then
      if whole and #heads > 0 then hi = 1 else read() end  -- round again, or read on
    end
    if whole then size = #heads end
    if plain > 0 and (#heads == 0 or u >= size) then
      local got = redis.call('LPOP', KEYS[k], #heads == 0 and want - #ids or 1) or {}
      for _, id in ipairs(got) do ids[#ids + 1] = id end
      plain, u = #got > 0 and plain - #got or 0, 0
    elseif #heads == 0 then
      break
    else
      local g = heads[hi]
      if g ~= cur then cur, served = g, 0 end
      local before, what = #ids, nil
      served, what = visit(p, g, served, lim[g], whole and #heads == 1 and plain == 0)
      dec[g] = (dec[g] or 0) + #ids - before
      if what == 'stay' then break end
      if what == 'rotate' and bl[g] - dec[g] <= 0 then what = 'drop' end  -- nothing left
      u, at = u + 1, sc[g]
      if what == 'rotate' then
        hi = hi + 1
      else
        if what == 'drop' then dropped[#dropped + 1] = g end
        table.remove(heads, hi)
      end
    end
  end
  flush()
  redis.call('HSET', turn, 'c' .. p, string.format('%.17g', at) .. ' ' .. served .. ' ' .. cur, 'u' .. p, u)
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
  if taken > 0 then redis.call('HINCRBY', KEYS[16], 'gready', -taken) end
  local names, counts = {}, {}
  for g, c in pairs(claimed) do
    if c > 0 then names[#names + 1] = g; counts[#counts + 1] = c end
  end
  if #names > 0 then
    local cur, h = redis.call('HMGET', pre .. 'gn', unpack(names)), {}
    for i, g in ipairs(names) do h[#h + 1] = g; h[#h + 1] = (tonumber(cur[i]) or 0) + counts[i] end
    redis.call('HSET', pre .. 'gn', unpack(h))
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
-- Claim tokens never repeat, even after a failover to a replica that missed the last claims:
-- the counter is floored at Redis TIME (ms) x 1024, so a new master's tokens start above any
-- token the old one issued (up to 1024 claims per ms; below 2^53 until the year 2248).
local base = math.max(tonumber(redis.call('HGET', KEYS[16], 'tokens')) or 0, now * 1024)
redis.call('HSET', KEYS[16], 'tokens', string.format('%d', base + #ids))
local deadline = now + tonumber(ARGV[2])
local reply, z, h, gh, named = {1, now}, {}, {}, {}, {}
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
  if gof[i] then gh[#gh + 1] = id; gh[#gh + 1] = gof[i] end
  if gname[i] then named[#named + 1] = id; named[#named + 1] = gname[i] end
end
if #named > 0 then reply[#reply + 1] = named end
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
