#!lua flags=allow-oom
--[[ nack: give back jobs the caller still holds: retry now, retry later, or dead-letter.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] inflight zset   relay:{q}:inflight
  KEYS[12] delayed zset    relay:{q}:delayed   score = run_at (ms, Redis TIME)
  KEYS[13] dead zset       relay:{q}:dead      score = dead-lettered at (ms)
  KEYS[14] jobs hash       relay:{q}:jobs
  KEYS[15] run hash        relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[16] err hash        relay:{q}:err       id -> last error
  KEYS[17] stats hash      relay:{q}:stats
  KEYS[18] events stream   relay:{q}:events
  KEYS[19] wake list       relay:{q}:wake
  KEYS[20] progress hash   relay:{q}:prog      (dropped: a retry reports afresh)
  KEYS[21] cancel set      relay:{q}:cancel    in-flight ids whose cancel was asked for
  KEYS[22] cancelled zset  relay:{q}:cancelled score = cancelled at (ms)
  KEYS[23] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[24] parent hash     relay:{q}:parent    flows: child id -> "<parent queue> <parent id>"
  KEYS[25] outbox hash     relay:{q}:outbox    flows: finished children the parent must learn of
  ARGV[1] events stream cap (0 = no events)
  ARGV[2] key prefix relay:{q}: (wake lists relay:{q}:fin:<id>, expire after 60 s)
  ARGV[3..] 5 per job: id, claim token, mode, delay (ms), error text. Modes:
    fail   = failure, retried after delay while attempts remain, else dead
    later  = relay.Retry: not a failure, the attempt is given back, retried after delay
    dead   = non-retryable: dead at once
    cancel = the handler stopped on a cancel: cancelled
  A job flagged for cancel ends cancelled whatever the mode: it is never retried.
  Grouped jobs (docs/decisions/0053-fair-groups.md): a retry now goes back to its group's list;
  relay:{q}:grp, gin, gn, gconf, g:<g>, gq:<p>:<g>, gring:<p>, groups and stats derived
  from ARGV[2].
  Returns: {code per job} 1 ready now | 2 delayed | 3 dead | 4 cancelled
         | -2 stale token, nothing changed
  When a job that ended dead or cancelled is a flow's child, one more element follows the
  codes: the outbox entries this call wrote, {child id, entry, ...} (the caller applies them). ]]
-- #include grelease
-- #include gpush
local gof = {}  -- the group of each grouped job (relay:{q}:grp), where a retry goes back
if redis.call('EXISTS', ARGV[2] .. 'grp') == 1 then
  local ids = {}
  for b = 3, #ARGV, 5 do ids[#ids + 1] = ARGV[b] end
  local gs = redis.call('HMGET', ARGV[2] .. 'grp', unpack(ids))
  for i, id in ipairs(ids) do gof[id] = gs[i] or nil end
end
local left = {}  -- jobs this call takes out of flight

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local W = 5
local reply, n = {}, 0
local counts = {failed = 0, retried = 0, dead = 0, cancelled = 0}
local dead_ids, retried_ids, cancelled_ids, woke = {}, {}, {}, false
local flagged = redis.call('SCARD', KEYS[21]) > 0
for b = 3, #ARGV, W do
  n = n + 1
  local id, token, mode, delay, err = ARGV[b], ARGV[b + 1], ARGV[b + 2], tonumber(ARGV[b + 3]), ARGV[b + 4]
  local run = redis.call('HGET', KEYS[15], id)
  local attempts, cur, started, crashes
  if run then attempts, cur, started, crashes = string.match(run, '^(%d+) (%d+) (%d+) (%d+)') end
  if cur ~= token or not redis.call('ZSCORE', KEYS[11], id) then
    reply[n] = -2
  elseif mode == 'cancel' or (flagged and redis.call('SISMEMBER', KEYS[21], id) == 1) then
    redis.call('ZREM', KEYS[11], id); left[#left + 1] = id
    redis.call('SREM', KEYS[21], id)
    redis.call('ZADD', KEYS[22], now, id)
    counts.cancelled = counts.cancelled + 1; cancelled_ids[#cancelled_ids + 1] = id
    reply[n] = 4
  else
    redis.call('ZREM', KEYS[11], id); left[#left + 1] = id
    redis.call('HDEL', KEYS[20], id)
    local env = redis.call('HGET', KEYS[14], id) or ''
    local v, p, m1, m2 = string.byte(env, 1, 4)
    attempts = tonumber(attempts)
    if mode == 'later' then
      attempts = attempts - 1
      redis.call('HSET', KEYS[15], id, attempts .. ' ' .. cur .. ' ' .. started .. ' ' .. crashes)
    else
      counts.failed = counts.failed + 1
      redis.call('HSET', KEYS[16], id, err)
    end
    if mode == 'dead' or v ~= 1 or p == nil or p > 9 or (mode == 'fail' and attempts >= m1 * 256 + m2) then
      redis.call('ZADD', KEYS[13], now, id)
      counts.dead = counts.dead + 1; dead_ids[#dead_ids + 1] = id
      reply[n] = 3
    elseif delay > 0 then
      redis.call('ZADD', KEYS[12], now + delay, id)
      counts.retried = counts.retried + 1; retried_ids[#retried_ids + 1] = id
      reply[n] = 2
    else
      if gof[id] then gpush(ARGV[2], gof[id], p, id, false)
      else redis.call('RPUSH', KEYS[10 - p], id) end
      counts.retried = counts.retried + 1; retried_ids[#retried_ids + 1] = id
      woke = true
      reply[n] = 1
    end
  end
end
if grelease(ARGV[2], left) then woke = true end
for k, c in pairs(counts) do
  if c > 0 then redis.call('HINCRBY', KEYS[17], k, c) end
end
if tonumber(ARGV[1]) > 0 then
  if #retried_ids > 0 then
    redis.call('XADD', KEYS[18], 'MAXLEN', '~', ARGV[1], '*', 'k', 'retried', 'n', #retried_ids,
      'ids', table.concat(retried_ids, ' ', 1, math.min(#retried_ids, 50)))
  end
  if #dead_ids > 0 then
    redis.call('XADD', KEYS[18], 'MAXLEN', '~', ARGV[1], '*', 'k', 'dead', 'n', #dead_ids,
      'ids', table.concat(dead_ids, ' ', 1, math.min(#dead_ids, 50)))
  end
  if #cancelled_ids > 0 then
    redis.call('XADD', KEYS[18], 'MAXLEN', '~', ARGV[1], '*', 'k', 'cancelled',
      'n', #cancelled_ids, 'ids', table.concat(cancelled_ids, ' ', 1, math.min(#cancelled_ids, 50)))
  end
end
-- Wake the callers waiting for a job that just finished (dead or cancelled).
if redis.call('HLEN', KEYS[23]) > 0 then
  for _, list in ipairs({dead_ids, cancelled_ids}) do
    for _, id in ipairs(list) do
      local c = tonumber(redis.call('HGET', KEYS[23], id))
      if c and c > 0 then
        local key = ARGV[2] .. 'fin:' .. id
        for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
        redis.call('PEXPIRE', key, 60000)
        redis.call('HDEL', KEYS[23], id)
      end
    end
  end
end
-- #include to_parents
local function errors(list)
  local out = {}
  if #list == 0 then return out end
  local e = redis.call('HMGET', KEYS[16], unpack(list))
  for i, id in ipairs(list) do out[id] = e[i] or '' end
  return out
end
if redis.call('HLEN', KEYS[24]) > 0 then
  local sent = to_parents(KEYS[24], KEYS[25], dead_ids, 'd', errors(dead_ids), {})
  sent = to_parents(KEYS[24], KEYS[25], cancelled_ids, 'x', {}, sent)
  if #sent > 0 then reply[n + 1] = sent end
end
-- end of flows
if woke and redis.call('LLEN', KEYS[19]) == 0 then redis.call('RPUSH', KEYS[19], '1') end
return reply
