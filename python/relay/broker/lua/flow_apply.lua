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
  ARGV[4..] 3 per child: parent id, the child's field "<queue> <id>", outcome:
            'c' .. result record (completed) | 'd' .. error (dead) | 'x' (cancelled)
  Returns: {code per child} 0 no such parent or child (trimmed or deleted) | 1 recorded, the
           parent still waits | 2 recorded before (a replay) | 3 released: the parent is ready
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
local function release(pid, kids)
  redis.call('ZREM', KEYS[11], pid)
  redis.call('PEXPIRE', kids, keep)
  released[#released + 1] = pid
  local at = tonumber(redis.call('HGET', kids, '@'))
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

-- The children of one parent are applied together: one HMGET, ZSCORE, HSET and HINCRBY per
-- parent, however many of its children the batch has (a worker's acks come in batches).
local order, of = {}, {}
for b = 4, #ARGV, 3 do
  local pid = ARGV[b]
  if not of[pid] then of[pid] = {}; order[#order + 1] = pid end
  local l = of[pid]
  l[#l + 1] = b
end
local code = {}
for _, pid in ipairs(order) do
  local kids, bs, fields = prefix .. 'flow:' .. pid, of[pid], {}
  for i, b in ipairs(bs) do fields[i] = ARGV[b + 1] end
  local cur = redis.call('HMGET', kids, unpack(fields))
  local waiting = redis.call('ZSCORE', KEYS[11], pid)
  local set, seen, last, fatal, policy = {}, {}, nil, nil, nil
  for i, b in ipairs(bs) do
    local field, outcome = ARGV[b + 1], ARGV[b + 2]
    if not cur[i] then code[b] = 0
    elseif cur[i] ~= '' or seen[field] then code[b] = 2
    else
      seen[field] = true
      set[#set + 1] = field; set[#set + 1] = outcome
      if not waiting or fatal then code[b] = 5
      else
        code[b] = 1; last = b
        if string.sub(outcome, 1, 1) ~= 'c' then
          policy = policy or redis.call('HGET', kids, '?') or 'fail'
          if policy ~= 'ignore' then fatal = b; code[b] = 4 end
        end
      end
    end
  end
  if #set > 0 then
    redis.call('HSET', kids, unpack(set))
    local left = redis.call('HINCRBY', kids, '#', -(#set / 2))
    if fatal then kill(pid, kids, ARGV[fatal + 1], ARGV[fatal + 2])
    elseif waiting and left <= 0 then release(pid, kids); code[last] = 3 end
  end
end
for b = 4, #ARGV, 3 do reply[#reply + 1] = code[b] end

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
