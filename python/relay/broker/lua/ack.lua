#!lua flags=allow-oom
--[[ ack: complete jobs the caller still holds; the claim token fences stale acks.
  KEYS[1] inflight zset  relay:{q}:inflight
  KEYS[2] run hash       relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[3] jobs hash      relay:{q}:jobs
  KEYS[4] err hash       relay:{q}:err
  KEYS[5] done zset      relay:{q}:done      score = finished (ms, Redis TIME)
  KEYS[6] stats hash     relay:{q}:stats
  KEYS[7] events stream  relay:{q}:events
  KEYS[8] results hash   relay:{q}:res       id -> '=' JSON result | '!' why it was not kept
  KEYS[9] progress hash  relay:{q}:prog
  KEYS[10] cancel set    relay:{q}:cancel    in-flight ids whose cancel was asked for
  KEYS[11] cancelled zset relay:{q}:cancelled score = cancelled at (ms)
  KEYS[12] waiting hash  relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[13] parent hash   relay:{q}:parent    flows: child id -> "<parent queue> <parent id>"
  KEYS[14] outbox hash   relay:{q}:outbox    flows: finished children the parent must learn of
  ARGV[1] completed jobs kept (count, 0 = none)  ARGV[2] completed jobs kept (max age, ms)
  ARGV[3] events stream cap (0 = no events)     ARGV[4] key prefix relay:{q}: (wake lists
  relay:{q}:fin:<id>, one token per waiter, expire after 60 s)
  ARGV[5] flows: outbox entries already applied to their parents, ids space-separated ('' =
          none): deleted here, so a worker's ack carries the HDEL of its last settle
  ARGV[6..] 3 per job: id, claim token, result record ('' = no result)
  Grouped jobs (docs/decisions/0053-fair-groups.md): relay:{q}:gin, gn, gconf, g:<g>, gq:<p>:<g>,
  gring:<p>, grp and wake, derived from ARGV[4].
  A job flagged for cancel ends cancelled, not completed (the cancel was acknowledged first).
  Returns: {code per job} 1 acked | 2 already acked with this token (a resend), nothing changed
         | 3 cancelled (flagged; result dropped) | -2 stale: lease lost or token superseded, or
           the job is cancelled already (a resend of the ack that cancelled it is stale too)
  When a finished job is a flow's child, one more element follows the codes: the outbox
  entries this call wrote, {child id, entry, ...} (the caller applies them to the parents). ]]
if ARGV[5] ~= '' then  -- in chunks: unpack has a limit, and a worker's backlog may not
  local applied = {}
  for id in string.gmatch(ARGV[5], '%S+') do
    applied[#applied + 1] = id
    if #applied == 1000 then redis.call('HDEL', KEYS[14], unpack(applied)); applied = {} end
  end
  if #applied > 0 then redis.call('HDEL', KEYS[14], unpack(applied)) end
end
local ids, seen = {}, {}
for i = 6, #ARGV, 3 do ids[#ids + 1] = ARGV[i] end
local scores = redis.call('ZMSCORE', KEYS[1], unpack(ids))
local runs = redis.call('HMGET', KEYS[2], unpack(ids))
local flagged = redis.call('SCARD', KEYS[10]) > 0
local ok, res, cancelled, reply = {}, {}, {}, {}
for i, id in ipairs(ids) do
  local b = 3 * i + 3
  local token = runs[i] and string.match(runs[i], '^%d+ (%d+) ')
  local mine = token == ARGV[b + 1] and not seen[id]
  if scores[i] and mine then
    seen[id] = true
    if flagged and redis.call('SISMEMBER', KEYS[10], id) == 1 then
      cancelled[#cancelled + 1] = id; reply[i] = 3
    else
      ok[#ok + 1] = id; reply[i] = 1
      if ARGV[b + 2] ~= '' then res[#res + 1] = id; res[#res + 1] = ARGV[b + 2] end
    end
  elseif mine and redis.call('ZSCORE', KEYS[5], id) then
    reply[i] = 2  -- this very claim was acked before (a resend after a lost reply): done
  else
    reply[i] = -2
  end
end
if #ok == 0 and #cancelled == 0 then return reply end

-- #include grelease
local freed = {}
for _, list in ipairs({ok, cancelled}) do
  for _, id in ipairs(list) do freed[#freed + 1] = id end
end
if grelease(ARGV[4], freed) and redis.call('LLEN', ARGV[4] .. 'wake') == 0 then
  redis.call('RPUSH', ARGV[4] .. 'wake', '1')
end
-- #include to_parents
if redis.call('HLEN', KEYS[13]) > 0 then
  local rec = {}
  for i = 1, #res, 2 do rec[res[i]] = res[i + 1] end
  local sent = to_parents(KEYS[13], KEYS[14], ok, 'c', rec, {})
  sent = to_parents(KEYS[13], KEYS[14], cancelled, 'x', {}, sent)
  if #sent > 0 then reply[#ids + 1] = sent end
end
-- end of flows

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[3])
local function event(kind, list)
  if cap > 0 and #list > 0 then
    redis.call('XADD', KEYS[7], 'MAXLEN', '~', cap, '*', 'k', kind, 'n', #list,
      'ids', table.concat(list, ' ', 1, math.min(#list, 50)))
  end
end
local function wake(list)
  if #list == 0 or redis.call('HLEN', KEYS[12]) == 0 then return end
  local n = redis.call('HMGET', KEYS[12], unpack(list))
  for i, id in ipairs(list) do
    local c = tonumber(n[i])
    if c and c > 0 then
      local key = ARGV[4] .. 'fin:' .. id
      for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
      redis.call('PEXPIRE', key, 60000)
      redis.call('HDEL', KEYS[12], id)
    end
  end
end

if #cancelled > 0 then
  redis.call('ZREM', KEYS[1], unpack(cancelled))
  redis.call('SREM', KEYS[10], unpack(cancelled))
  local z = {}
  for _, id in ipairs(cancelled) do z[#z + 1] = now; z[#z + 1] = id end
  redis.call('ZADD', KEYS[11], unpack(z))
  redis.call('HINCRBY', KEYS[6], 'cancelled', #cancelled)
  event('cancelled', cancelled)
  wake(cancelled)
end
if #ok == 0 then return reply end

redis.call('ZREM', KEYS[1], unpack(ok))
if #res > 0 then redis.call('HSET', KEYS[8], unpack(res)) end
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
  for _, k in ipairs({KEYS[3], KEYS[2], KEYS[4]}) do redis.call('HDEL', k, unpack(gone)) end
  if redis.call('HLEN', KEYS[13]) > 0 then  -- flows: the child's link to its parent
    redis.call('HDEL', KEYS[13], unpack(gone))
  end
  for _, k in ipairs({KEYS[8], KEYS[9]}) do  -- results, progress: often never written
    if redis.call('EXISTS', k) == 1 then redis.call('HDEL', k, unpack(gone)) end
  end
  local grp = ARGV[4] .. 'grp'  -- groups of grouped jobs (docs/decisions/0053)
  if redis.call('EXISTS', grp) == 1 then redis.call('HDEL', grp, unpack(gone)) end
end
redis.call('HINCRBY', KEYS[6], 'completed', #ok)
event('completed', ok)
wake(ok)
return reply
