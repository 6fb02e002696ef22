#!lua flags=allow-oom
--[[ move_jobs: move delayed jobs (run now) or dead jobs (requeue) to the tail of their ready
  lists, keeping their priority: one job by id, or a chunk of a selection by type.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] source zset     relay:{q}:delayed | relay:{q}:dead
  KEYS[12] jobs hash       relay:{q}:jobs
  KEYS[13] run hash        relay:{q}:run   (from dead: deleted, attempts restart)
  KEYS[14] stats hash      relay:{q}:stats (from dead: requeued += moved)
  KEYS[15] events stream   relay:{q}:events
  KEYS[16] wake list       relay:{q}:wake
  ARGV[1] events stream cap (0 = no events)   ARGV[2] kind: 'promoted' (from delayed)
          | 'requeued' (from dead)
  ARGV[3] job id, or '' for a selection: ARGV[4] job type ('' = any), ARGV[5] rank to start
          examining at (oldest first), ARGV[6] most jobs examined (<= 1000)
  Jobs whose record is missing or unreadable stay where they are. A grouped job goes to its
  group's list (decision 0053).
  Returns: {1} moved | {-8} that id is not in the source state (or its record is unreadable)
         | {moved, next rank, left in the source} for a selection (next rank >= left: done) ]]
local src, requeue = KEYS[11], ARGV[2] == 'requeued'
local ids
if ARGV[3] ~= '' then
  if not redis.call('ZSCORE', src, ARGV[3]) then return {-8} end
  ids = {ARGV[3]}
else
  local start = tonumber(ARGV[5])
  ids = redis.call('ZRANGE', src, start, start + tonumber(ARGV[6]) - 1)
  if #ids == 0 then return {0, start, redis.call('ZCARD', src)} end
end
-- #include gpush
-- Grouped jobs go back to their group (relay:{q}:grp, docs/decisions/0053-fair-groups.md);
-- the group keys derive from the jobs hash's name (relay:{q}:jobs).
local pre = string.sub(KEYS[12], 1, -5)
local gs = {}
if redis.call('EXISTS', pre .. 'grp') == 1 then gs = redis.call('HMGET', pre .. 'grp', unpack(ids)) end
local envs = redis.call('HMGET', KEYS[12], unpack(ids))
local ready, moved, grouped = {}, {}, {}
for i, id in ipairs(ids) do
  local env = envs[i] or ''
  local v, p = string.byte(env, 1, 2)
  local tn = string.byte(env, 17)
  local fits = ARGV[3] ~= '' or ARGV[4] == '' or (tn and string.sub(env, 18, 17 + tn) == ARGV[4])
  if v == 1 and p and p <= 9 and fits and gs[i] then
    grouped[#grouped + 1] = {gs[i], p, id}
    moved[#moved + 1] = id
  elseif v == 1 and p and p <= 9 and fits then
    ready[p] = ready[p] or {}
    table.insert(ready[p], id)
    moved[#moved + 1] = id
  end
end
if ARGV[3] ~= '' and #moved == 0 then return {-8} end
if #moved > 0 then
  for p, list in pairs(ready) do redis.call('RPUSH', KEYS[10 - p], unpack(list)) end
  for _, x in ipairs(grouped) do gpush(pre, x[1], x[2], x[3], false) end
  redis.call('ZREM', src, unpack(moved))
  if requeue then
    redis.call('HDEL', KEYS[13], unpack(moved))
    redis.call('HINCRBY', KEYS[14], 'requeued', #moved)
  end
  if tonumber(ARGV[1]) > 0 then
    redis.call('XADD', KEYS[15], 'MAXLEN', '~', ARGV[1], '*', 'k', ARGV[2], 'n', #moved,
      'ids', table.concat(moved, ' ', 1, math.min(#moved, 50)))
  end
  if redis.call('LLEN', KEYS[16]) == 0 then redis.call('RPUSH', KEYS[16], '1') end
end
if ARGV[3] ~= '' then return {1} end
return {#moved, tonumber(ARGV[5]) + #ids - #moved, redis.call('ZCARD', src)}
