#!lua flags=allow-oom
--[[ reap: take back jobs whose lease expired (their worker died or stalled).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] inflight zset   relay:{q}:inflight  score = lease deadline (ms, Redis TIME)
  KEYS[12] dead zset       relay:{q}:dead
  KEYS[13] jobs hash       relay:{q}:jobs
  KEYS[14] run hash        relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[15] err hash        relay:{q}:err
  KEYS[16] stats hash      relay:{q}:stats
  KEYS[17] events stream   relay:{q}:events
  KEYS[18] wake list       relay:{q}:wake
  KEYS[19] progress hash   relay:{q}:prog      (dropped: the next attempt reports afresh)
  KEYS[20] cancel set      relay:{q}:cancel    in-flight ids whose cancel was asked for
  KEYS[21] cancelled zset  relay:{q}:cancelled score = cancelled at (ms)
  KEYS[22] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[23] parent hash     relay:{q}:parent    flows: child id -> "<parent queue> <parent id>"
  KEYS[24] outbox hash     relay:{q}:outbox    flows: finished children the parent must learn of
  ARGV[1] most jobs per call (≤ 1000)   ARGV[2] crash limit (lost leases before quarantine)
  ARGV[3] events stream cap (0 = no events)
  ARGV[4] key prefix relay:{q}: (wake lists relay:{q}:fin:<id>, expire after 60 s)
  KEYS[1..10], the paused flag relay:{q}:paused and the rings gring:<p> (from ARGV[4]) are
  also read to push a wake-up lost with a dead worker (see rewake below).
  Each job goes back to the head of its ready list, or to the dead set when its attempts are
  spent or its worker was lost crash-limit times (a crash loop); a job flagged for cancel is
  cancelled, never requeued. Safe from many workers at once.
  Grouped jobs (docs/decisions/0053-fair-groups.md) go back to the head of their group's list;
  relay:{q}:grp, gin, gn, gconf, g:<g>, gq:<p>:<g>, gring:<p>, groups and stats derived
  from ARGV[4].
  Returns: {requeued, dead, more, cancelled, outbox} more = 1 when the batch limit was hit;
  outbox = the entries written for flows' parents, {child id, entry, ...} (the caller applies
  them) ]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
-- A wake-up popped by a worker that died before it claimed (on a cluster the claim is a second
-- call) leaves jobs ready and idle workers asleep: a reap that finds claimable jobs, no wake-up
-- pending and the queue not paused pushes one, so such a stall lasts one reap period at most.
local function rewake()  -- one command when idle (empty lists and zsets do not exist)
  local work = {}
  for p = 9, 0, -1 do
    work[#work + 1] = KEYS[10 - p]; work[#work + 1] = ARGV[4] .. 'gring:' .. p
  end
  if redis.call('EXISTS', unpack(work)) > 0
    and redis.call('EXISTS', KEYS[18], ARGV[4] .. 'paused') == 0 then
    redis.call('RPUSH', KEYS[18], '1')
  end
end
if #ids == 0 then rewake(); return {0, 0, 0, 0, {}} end
-- #include grelease
-- #include gpush
local gof = {}  -- the group of each grouped job (relay:{q}:grp), where it goes back
if redis.call('EXISTS', ARGV[4] .. 'grp') == 1 then
  gof = redis.call('HMGET', ARGV[4] .. 'grp', unpack(ids))
end
local envs = redis.call('HMGET', KEYS[13], unpack(ids))
local runs = redis.call('HMGET', KEYS[14], unpack(ids))
local limit = tonumber(ARGV[2])
local flags = redis.call('SMISMEMBER', KEYS[20], unpack(ids))
local requeued, dead, cancelled, h, e = {}, {}, {}, {}, {}
for i, id in ipairs(ids) do
  local a, tok, st, c = string.match(runs[i] or '', '^(%d+) (%d+) (%d+) (%d+)')
  a, c = tonumber(a) or 0, (tonumber(c) or 0) + 1
  h[#h + 1] = id; h[#h + 1] = a .. ' ' .. (tok or 0) .. ' ' .. (st or 0) .. ' ' .. c
  local env = envs[i] or ''
  local v, p, m1, m2 = string.byte(env, 1, 4)
  e[#e + 1] = id
  if flags[i] == 1 then
    e[#e + 1] = 'cancelled: its worker was lost after the cancel was asked for'
    cancelled[#cancelled + 1] = id
  elseif v ~= 1 or p == nil or p > 9 then
    e[#e + 1] = 'lease expired and the job record is missing or corrupt'
    dead[#dead + 1] = id
  elseif c >= limit then
    e[#e + 1] = 'quarantined: the worker running it was lost ' .. c .. ' times (crash loop?)'
    dead[#dead + 1] = id
  elseif a >= m1 * 256 + m2 then
    e[#e + 1] = 'lease expired on the last attempt (' .. a .. '): worker lost or stalled'
    dead[#dead + 1] = id
  else
    e[#e + 1] = 'lease expired: worker lost or stalled, job requeued'
    if gof[i] then gpush(ARGV[4], gof[i], p, id, true)
    else redis.call('LPUSH', KEYS[10 - p], id) end
    requeued[#requeued + 1] = id
  end
end
redis.call('ZREM', KEYS[11], unpack(ids))
local back = grelease(ARGV[4], ids)
redis.call('HSET', KEYS[14], unpack(h))
redis.call('HSET', KEYS[15], unpack(e))
redis.call('HDEL', KEYS[19], unpack(ids))
if #cancelled > 0 then
  local z = {}
  for _, id in ipairs(cancelled) do z[#z + 1] = now; z[#z + 1] = id end
  redis.call('ZADD', KEYS[21], unpack(z))
  redis.call('SREM', KEYS[20], unpack(cancelled))
  redis.call('HINCRBY', KEYS[16], 'cancelled', #cancelled)
end
-- Wake the callers waiting for a job that just finished (dead or cancelled).
if redis.call('HLEN', KEYS[22]) > 0 then
  for _, list in ipairs({dead, cancelled}) do
    for _, id in ipairs(list) do
      local c = tonumber(redis.call('HGET', KEYS[22], id))
      if c and c > 0 then
        local key = ARGV[4] .. 'fin:' .. id
        for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
        redis.call('PEXPIRE', key, 60000)
        redis.call('HDEL', KEYS[22], id)
      end
    end
  end
end
if #dead > 0 then
  local z = {}
  for _, id in ipairs(dead) do z[#z + 1] = now; z[#z + 1] = id end
  redis.call('ZADD', KEYS[12], unpack(z))
  redis.call('HINCRBY', KEYS[16], 'dead', #dead)
end
if #requeued > 0 then redis.call('HINCRBY', KEYS[16], 'reaped', #requeued) end
if (#requeued > 0 or back) and redis.call('LLEN', KEYS[18]) == 0 then
  redis.call('RPUSH', KEYS[18], '1')
else
  rewake()
end
if tonumber(ARGV[3]) > 0 then
  redis.call('XADD', KEYS[17], 'MAXLEN', '~', ARGV[3], '*', 'k', 'reaped', 'n', #ids,
    'ids', table.concat(ids, ' ', 1, math.min(#ids, 50)))
end
-- #include to_parents
local function errors(list)
  local out = {}
  if #list == 0 then return out end
  local e = redis.call('HMGET', KEYS[15], unpack(list))
  for i, id in ipairs(list) do out[id] = e[i] or '' end
  return out
end
local sent = {}
if redis.call('HLEN', KEYS[23]) > 0 then
  sent = to_parents(KEYS[23], KEYS[24], dead, 'd', errors(dead), {})
  sent = to_parents(KEYS[23], KEYS[24], cancelled, 'x', {}, sent)
end
-- end of flows
local more = 0
if #ids == tonumber(ARGV[1]) then more = 1 end
return {#requeued, #dead, more, #cancelled, sent}
