#!lua
--[[ promote: move delayed jobs that are due onto the tail of their ready lists.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] delayed zset    relay:{q}:delayed   score = run_at (ms, Redis TIME)
  KEYS[12] jobs hash       relay:{q}:jobs
  KEYS[13] wake list       relay:{q}:wake
  KEYS[14] schedules zset  relay:{q}:sched:due  name scored by next tick (ms): only peeked at,
                           so the promoter learns when to fire schedules without another call
  ARGV[1] most jobs per call (≤ 1000). Safe from many workers at once.
  ARGV[2] key prefix relay:{q}: a grouped job (relay:{q}:grp, docs/decisions/0053-fair-groups.md)
  goes to its group's list gq:<p>:<g>, the group into the ring gring:<p> unless parked; the
  backlog counts (groups zset, stats field gready) follow.
  Returns: {moved, wait_ms, tick_ms} wait_ms until the next delayed job is due | -1 none | 0 more
           due now; tick_ms until the next schedule tick | -1 none | 0 due now ]]
-- #include gpush
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
-- The head of the delayed set says both whether anything is due and when the next is: an idle
-- queue costs this one read (and the schedule peek below), nothing more.
local head = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
local ids = {}
if #head > 0 and tonumber(head[2]) <= now then
  ids = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
  local envs = redis.call('HMGET', KEYS[12], unpack(ids))
  local ready, gs = {}, {}
  if ARGV[2] and redis.call('EXISTS', ARGV[2] .. 'grp') == 1 then
    gs = redis.call('HMGET', ARGV[2] .. 'grp', unpack(ids))
  end
  for i, id in ipairs(ids) do
    -- A missing or corrupt record still moves (to priority 0) so the claimer dead-letters it.
    local p = string.byte(envs[i] or '', 2)
    if p == nil or p > 9 then p = 0 end
    if gs[i] then
      gpush(ARGV[2], gs[i], p, id)
    else
      ready[p] = ready[p] or {}
      table.insert(ready[p], id)
    end
  end
  for p, list in pairs(ready) do redis.call('RPUSH', KEYS[10 - p], unpack(list)) end
  redis.call('ZREM', KEYS[11], unpack(ids))
  if redis.call('LLEN', KEYS[13]) == 0 then redis.call('RPUSH', KEYS[13], '1') end
  head = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
end
local tick = redis.call('ZRANGE', KEYS[14], 0, 0, 'WITHSCORES')
tick = #tick == 0 and -1 or math.max(0, tonumber(tick[2]) - now)
if #head == 0 then return {#ids, -1, tick} end
return {#ids, math.max(0, tonumber(head[2]) - now), tick}
