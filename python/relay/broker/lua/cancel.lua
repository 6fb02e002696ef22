#!lua flags=allow-oom
--[[ cancel: stop a job for good. A ready or delayed job is cancelled at once; an in-flight one
  gets a cancel flag that its worker learns from its next extend, and that ack, nack and reap
  honour (it ends cancelled, never retried).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] delayed zset    relay:{q}:delayed
  KEYS[12] inflight zset   relay:{q}:inflight
  KEYS[13] done zset       relay:{q}:done
  KEYS[14] dead zset       relay:{q}:dead
  KEYS[15] cancelled zset  relay:{q}:cancelled score = cancelled at (ms, Redis TIME)
  KEYS[16] cancel set      relay:{q}:cancel    in-flight ids whose cancel was asked for
  KEYS[17] jobs hash       relay:{q}:jobs
  KEYS[18] run hash        relay:{q}:run
  KEYS[19] err hash        relay:{q}:err
  KEYS[20] results hash    relay:{q}:res
  KEYS[21] progress hash   relay:{q}:prog
  KEYS[22] stats hash      relay:{q}:stats
  KEYS[23] events stream   relay:{q}:events
  KEYS[24] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[25] blocked zset    relay:{q}:blocked   flows: parents waiting for their children
  KEYS[26] parent hash     relay:{q}:parent    flows: child id -> "<parent queue> <parent id>"
  KEYS[27] outbox hash     relay:{q}:outbox    flows: finished children the parent must learn of
  ARGV[1] job id   ARGV[2] cancelled jobs kept (count, 0 = none)   ARGV[3] ... (max age, ms)
  ARGV[4] events stream cap (0 = no events)
  ARGV[5] key prefix relay:{q}: (wake lists relay:{q}:fin:<id>, expire after 60 s)
  A ready grouped job (docs/decisions/0053-fair-groups.md) leaves its group's list; relay:{q}:
  grp, gq:<p>:<g>, gring:<p>, groups and stats derived from ARGV[5].
  A flow's waiting parent is cancelled at once (the caller then cancels its unfinished
  children); a flow's child leaves an outbox entry for its parent (decision 0050).
  The cancelled set is trimmed here (bounded per call): every entry follows a cancel call.
  Returns: {1} cancelled now | {2} already cancelled | {3} in flight: flagged, cancelling
         | {-10} unknown | {-11, state} already completed or dead: nothing changed ]]
local id = ARGV[1]
local env = redis.call('HGET', KEYS[17], id)
if not env then return {-10} end
if redis.call('ZSCORE', KEYS[15], id) then return {2} end
if redis.call('ZSCORE', KEYS[13], id) then return {-11, 'completed'} end
if redis.call('ZSCORE', KEYS[14], id) then return {-11, 'dead'} end
local cap = tonumber(ARGV[4])
if redis.call('ZSCORE', KEYS[12], id) then
  if redis.call('SADD', KEYS[16], id) == 1 and cap > 0 then
    redis.call('XADD', KEYS[23], 'MAXLEN', '~', cap, '*', 'k', 'cancelling', 'n', 1, 'ids', id)
  end
  return {3}
end
local parked = redis.call('ZREM', KEYS[25], id) == 1  -- flows: a waiting parent
if parked then redis.call('PEXPIRE', ARGV[5] .. 'flow:' .. id, ARGV[3]) end
if not parked and redis.call('ZREM', KEYS[11], id) == 0 then
  local p = string.byte(env, 2)
  local removed = 0
  local g = redis.call('HGET', ARGV[5] .. 'grp', id)
  if g and p and p <= 9 then  -- a grouped job: on its group's list, unless claimed ungrouped
    local pre = ARGV[5]
    removed = redis.call('LREM', pre .. 'gq:' .. p .. ':' .. g, 1, id)
    if removed > 0 then
      if tonumber(redis.call('ZINCRBY', pre .. 'groups', -1, g)) <= 0 then
        redis.call('ZREM', pre .. 'groups', g)
      end
      redis.call('HINCRBY', KEYS[22], 'gready', -1)
      if redis.call('EXISTS', pre .. 'gq:' .. p .. ':' .. g) == 0 then
        redis.call('ZREM', pre .. 'gring:' .. p, g)
      end
    end
  end
  if removed == 0 then removed = p and p <= 9 and redis.call('LREM', KEYS[10 - p], 1, id) or 0 end
  for k = 1, 10 do  -- not on its own priority's list (a corrupt record): look at every list
    if removed > 0 then break end
    removed = redis.call('LREM', KEYS[k], 1, id)
  end
  if removed == 0 then return {-10} end
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[15], now, id)
redis.call('HINCRBY', KEYS[22], 'cancelled', 1)
if cap > 0 then
  redis.call('XADD', KEYS[23], 'MAXLEN', '~', cap, '*', 'k', 'cancelled', 'n', 1, 'ids', id)
end
local c = tonumber(redis.call('HGET', KEYS[24], id))
if c and c > 0 then
  local key = ARGV[5] .. 'fin:' .. id
  for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
  redis.call('PEXPIRE', key, 60000)
  redis.call('HDEL', KEYS[24], id)
end
-- #include to_parents
if redis.call('HLEN', KEYS[26]) > 0 then to_parents(KEYS[26], KEYS[27], {id}, 'x', {}, {}) end
-- end of flows
-- Amortised trim, bounded per call: the oldest beyond the count, then those past the age.
local keep, max_age = tonumber(ARGV[2]), tonumber(ARGV[3])
local over = math.min(redis.call('ZCARD', KEYS[15]) - keep, 1000)
local gone = {}
if over > 0 then gone = redis.call('ZRANGE', KEYS[15], 0, over - 1) end
local old = redis.call('ZRANGEBYSCORE', KEYS[15], '-inf', now - max_age, 'LIMIT', 0, 1000)
for _, x in ipairs(old) do gone[#gone + 1] = x end
if #gone > 0 then
  redis.call('ZREM', KEYS[15], unpack(gone))
  for k = 17, 21 do redis.call('HDEL', KEYS[k], unpack(gone)) end
  redis.call('HDEL', ARGV[5] .. 'grp', unpack(gone))
  redis.call('HDEL', KEYS[26], unpack(gone))  -- flows: the child's link to its parent
end
return {1}
