#!lua flags=allow-oom
--[[ flow_apply: tell a parent that one child finished (an outbox entry of the child's queue,
  decision 0050). Idempotent: the child's field goes from '' to its outcome once, so a replay
  after a crash changes nothing. Runs in the parent's slot only.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] blocked zset    relay:{q}:blocked   parents waiting for children
  KEYS[12] flow hash       relay:{q}:flow:<parent id>
  KEYS[13] dead zset       relay:{q}:dead      score = dead-lettered at (ms, Redis TIME)
  KEYS[14] err hash        relay:{q}:err
  KEYS[15] jobs hash       relay:{q}:jobs
  KEYS[16] stats hash      relay:{q}:stats
  KEYS[17] events stream   relay:{q}:events
  KEYS[18] wake list       relay:{q}:wake
  KEYS[19] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[20] parent hash     relay:{q}:parent    (the parent's own parent, when it is a child)
  KEYS[21] outbox hash     relay:{q}:outbox    (where a parent made dead tells its parent)
  ARGV[1] parent id   ARGV[2] the child's field "<queue> <id>"
  ARGV[3] outcome: 'c' .. result record (completed) | 'd' .. error (dead) | 'x' (cancelled)
  ARGV[4] events stream cap (0 = no events)
  ARGV[5] key prefix relay:{q}: (wake lists relay:{q}:fin:<id>, expire after 60 s)
  ARGV[6] how long the children's outcomes are kept once the parent leaves `waiting` (ms)
  Returns: {0} no such parent or child (trimmed or deleted) | {1} recorded, still waiting
         | {2} recorded before (a replay) | {3} released: the parent is ready
         | {4} the parent is dead (a child failed under "fail"); its parent has an outbox entry
           when it is a child itself (the caller drains this queue's outbox)
         | {5} recorded, the parent left `waiting` already (cancelled, dead) ]]
local pid, field, outcome = ARGV[1], ARGV[2], ARGV[3]
local cur = redis.call('HGET', KEYS[12], field)
if not cur then return {0} end
if cur ~= '' then return {2} end
redis.call('HSET', KEYS[12], field, outcome)
local left = redis.call('HINCRBY', KEYS[12], '#', -1)
if not redis.call('ZSCORE', KEYS[11], pid) then return {5} end
local tag = string.sub(outcome, 1, 1)
local cap = tonumber(ARGV[4])
local function event(kind)
  if cap > 0 then
    redis.call('XADD', KEYS[17], 'MAXLEN', '~', cap, '*', 'k', kind, 'n', 1, 'ids', pid)
  end
end
if tag ~= 'c' and redis.call('HGET', KEYS[12], '?') ~= 'ignore' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local why = 'child ' .. field .. ' was cancelled'
  if tag == 'd' then why = 'child ' .. field .. ' is dead: ' .. string.sub(outcome, 2, 1000) end
  redis.call('ZREM', KEYS[11], pid)
  redis.call('ZADD', KEYS[13], now, pid)
  redis.call('HSET', KEYS[14], pid, why)
  redis.call('HINCRBY', KEYS[16], 'dead', 1)
  redis.call('PEXPIRE', KEYS[12], ARGV[6])
  event('dead')
  local c = tonumber(redis.call('HGET', KEYS[19], pid))
  if c and c > 0 then
    local key = ARGV[5] .. 'fin:' .. pid
    for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
    redis.call('PEXPIRE', key, 60000)
    redis.call('HDEL', KEYS[19], pid)
  end
  local up = redis.call('HGET', KEYS[20], pid)
  if up then redis.call('HSET', KEYS[21], pid, up .. ' d' .. why) end
  return {4}
end
if left > 0 then return {1} end
local env = redis.call('HGET', KEYS[15], pid) or ''
local p = string.byte(env, 2)
if p == nil or p > 9 then p = 5 end
redis.call('ZREM', KEYS[11], pid)
redis.call('RPUSH', KEYS[10 - p], pid)
redis.call('PEXPIRE', KEYS[12], ARGV[6])
event('released')
if redis.call('LLEN', KEYS[18]) == 0 then redis.call('RPUSH', KEYS[18], '1') end
return {3}
