#!lua flags=allow-oom
--[[ flow_apply: tell parents of this queue that children finished (outbox entries of the
  children's queues, decision 0050). Idempotent: a child's field goes from '' to its outcome
  once, so a replay after a crash changes nothing. Runs in the parents' slot only; a parent's
  children hash relay:{q}:flow:<id> is derived from ARGV[2] (same slot).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] blocked zset    relay:{q}:blocked   parents waiting for children
  KEYS[12] dead zset       relay:{q}:dead      score = dead-lettered at (ms, Redis TIME)
  KEYS[13] err hash        relay:{q}:err
  KEYS[14] jobs hash       relay:{q}:jobs
  KEYS[15] stats hash      relay:{q}:stats
  KEYS[16] events stream   relay:{q}:events
  KEYS[17] wake list       relay:{q}:wake
  KEYS[18] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[19] parent hash     relay:{q}:parent    (a parent's own parent, when it is a child)
  KEYS[20] outbox hash     relay:{q}:outbox    (where a parent made dead tells its parent)
  ARGV[1] events stream cap (0 = no events)
  ARGV[2] key prefix relay:{q}: (children hashes flow:<id>; wake lists fin:<id>, 60 s)
  ARGV[3] how long the children's outcomes are kept once the parent leaves `waiting` (ms)
  A released parent whose own delay is not over (its children hash's '@', ms) goes to the
  delayed zset relay:{q}:delayed (derived from ARGV[2]) instead, with a wake-up when it is due
  before every other delayed job (the promoter's sleep is stale).
  A released parent with a group (relay:{q}:grp, docs/decisions/0053-fair-groups.md) goes to its
  group's list gq:<p>:<g>, the group into the ring gring:<p> unless parked; the backlog counts
  (groups zset, stats field gready) follow. These keys derive from ARGV[2].
  ARGV[4..] per parent: its id, n, then n children as pairs: the child's field
            "<queue> <id>", its outcome = 'c' .. result record (completed) | 'd' .. error
            (dead) | 'x' (cancelled); one parent's children go together (the caller groups
            them: one HMGET, ZSCORE, HSET and HINCRBY per parent, however many children)
  Returns: {code per child, in ARGV order} 0 no such parent or child (trimmed or deleted)
         | 1 recorded, the parent still waits | 2 recorded before (a replay)
         | 3 released: the parent is ready (or delayed, when its own delay is not over)
         | 4 the parent is dead (a child failed under "fail"); when it is a child itself its own
           parent has an outbox entry here (the caller drains this queue's outbox)
         | 5 recorded, the parent left `waiting` already (cancelled, dead) ]]
local cap, prefix, keep = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local reply, released, died = {}, {}, {}

local function wake_waiters(pid)
  local c = tonumber(redis.call('HGET', KEYS[18], pid))
  if c and c > 0 then
    local key = prefix .. 'fin:' .. pid
    for _ = 1, math.min(c, 1000) do redis.call('RPUSH', key, '1') end
    redis.call('PEXPIRE', key, 60000)
    redis.call('HDEL', KEYS[18], pid)
  end
end

local function kill(pid, kids, field, outcome)
  local why = 'child ' .. field .. ' was cancelled'
  if string.sub(outcome, 1, 1) == 'd' then
    why = 'child ' .. field .. ' is dead: ' .. string.sub(outcome, 2, 1000)
  end
  redis.call('ZREM', KEYS[11], pid)
  redis.call('ZADD', KEYS[12], now, pid)
  redis.call('HSET', KEYS[13], pid, why)
  redis.call('PEXPIRE', kids, keep)
  wake_waiters(pid)
  local up = redis.call('HGET', KEYS[19], pid)
  if up then redis.call('HSET', KEYS[20], pid, up .. ' d' .. why) end
  died[#died + 1] = pid
end

-- A grouped parent onto its group's list, the group into its priority's ring unless parked.
-- #include gpush

local woken = false
local function release(pid, kids, at)
  redis.call('ZREM', KEYS[11], pid)
  redis.call('PEXPIRE', kids, keep)
  released[#released + 1] = pid
  if at and at > now then  -- its own delay is not over: delayed until then, as enqueue does
    local head = redis.call('ZRANGE', prefix .. 'delayed', 0, 0, 'WITHSCORES')
    woken = woken or #head == 0 or at < tonumber(head[2])
    redis.call('ZADD', prefix .. 'delayed', at, pid)
    return
  end
  local p = string.byte(redis.call('HGET', KEYS[14], pid) or '', 2)
  if p == nil or p > 9 then p = 5 end
  local g = redis.call('HGET', prefix .. 'grp', pid)
  if g then gpush(prefix, g, p, pid) else redis.call('RPUSH', KEYS[10 - p], pid) end
  woken = true
end

-- The children of one parent are applied together: one HMGET (with the policy '?' and the
-- parent's due time '@'), ZSCORE, HSET and HINCRBY per parent (a worker's acks come in batches).
local b = 4
while b <= #ARGV do
  local pid, n = ARGV[b], tonumber(ARGV[b + 1])
  local kids, fields = prefix .. 'flow:' .. pid, {'?', '@'}
  for i = 1, n do fields[i + 2] = ARGV[b + 2 * i] end
  local cur = redis.call('HMGET', kids, unpack(fields))
  local waiting = redis.call('ZSCORE', KEYS[11], pid)
  local set, seen, last, fatal = {}, {}, nil, nil
  for i = 1, n do
    local field, outcome, code = ARGV[b + 2 * i], ARGV[b + 2 * i + 1], 5
    if not cur[i + 2] then code = 0
    elseif cur[i + 2] ~= '' or seen[field] then code = 2
    else
      seen[field] = true
      set[#set + 1] = field; set[#set + 1] = outcome
      if waiting and not fatal then
        code = 1; last = #reply + 1
        if string.sub(outcome, 1, 1) ~= 'c' and cur[1] ~= 'ignore' then
          fatal = {field, outcome}; code = 4
        end
      end
    end
    reply[#reply + 1] = code
  end
  if #set > 0 then
    redis.call('HSET', kids, unpack(set))
    local left = redis.call('HINCRBY', kids, '#', -(#set / 2))
    if fatal then kill(pid, kids, fatal[1], fatal[2])
    elseif waiting and left <= 0 then release(pid, kids, tonumber(cur[2])); reply[last] = 3 end
  end
  b = b + 2 + 2 * n
end

local function event(kind, list)
  if cap > 0 and #list > 0 then
    redis.call('XADD', KEYS[16], 'MAXLEN', '~', cap, '*', 'k', kind, 'n', #list,
      'ids', table.concat(list, ' ', 1, math.min(#list, 50)))
  end
end
if #died > 0 then redis.call('HINCRBY', KEYS[15], 'dead', #died) end
event('dead', died)
event('released', released)
if woken and redis.call('LLEN', KEYS[17]) == 0 then redis.call('RPUSH', KEYS[17], '1') end
return reply
