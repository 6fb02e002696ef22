#!lua flags=allow-oom
--[[ requeue_dead: move dead jobs back to the tail of their ready lists with fresh attempts.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] dead zset       relay:{q}:dead
  KEYS[12] jobs hash       relay:{q}:jobs
  KEYS[13] run hash        relay:{q}:run   (deleted: attempts restart; tokens never repeat)
  KEYS[14] stats hash      relay:{q}:stats
  KEYS[15] events stream   relay:{q}:events
  KEYS[16] wake list       relay:{q}:wake
  ARGV[1] events stream cap (0 = no events)   ARGV[2] '' = all (oldest first, ≤ 1000 per call)
  or a job id. A grouped job goes back to its group's list (decision 0053).   Returns: {moved, left} left = dead jobs still there | {-7} that id is not dead ]]
local ids
if ARGV[2] ~= '' then
  if not redis.call('ZSCORE', KEYS[11], ARGV[2]) then return {-7} end
  ids = {ARGV[2]}
else
  ids = redis.call('ZRANGE', KEYS[11], 0, 999)
  if #ids == 0 then return {0, 0} end
end
-- #include gpush
-- Grouped jobs go back to their group (relay:{q}:grp, docs/decisions/0053-fair-groups.md);
-- the group keys derive from the jobs hash's name (relay:{q}:jobs).
local pre = string.sub(KEYS[12], 1, -5)
local gs = {}
if redis.call('EXISTS', pre .. 'grp') == 1 then gs = redis.call('HMGET', pre .. 'grp', unpack(ids)) end
local envs = redis.call('HMGET', KEYS[12], unpack(ids))
local ready, moved, gone, grouped = {}, 0, {}, {}
for i, id in ipairs(ids) do
  local p = string.byte(envs[i] or '', 2)
  if p and p <= 9 then
    if gs[i] then
      grouped[#grouped + 1] = {gs[i], p, id}
    else
      ready[p] = ready[p] or {}
      table.insert(ready[p], id)
    end
    moved = moved + 1
    gone[#gone + 1] = id
  end
end
if moved > 0 then
  -- Jobs without a readable record stay dead: requeueing them could only fail again.
  for p, list in pairs(ready) do redis.call('RPUSH', KEYS[10 - p], unpack(list)) end
  for _, x in ipairs(grouped) do gpush(pre, x[1], x[2], x[3], false) end
  redis.call('ZREM', KEYS[11], unpack(gone))
  redis.call('HDEL', KEYS[13], unpack(gone))
  redis.call('HINCRBY', KEYS[14], 'requeued', moved)
  if tonumber(ARGV[1]) > 0 then
    redis.call('XADD', KEYS[15], 'MAXLEN', '~', ARGV[1], '*', 'k', 'requeued', 'n', moved,
      'ids', table.concat(gone, ' ', 1, math.min(moved, 50)))
  end
  if redis.call('LLEN', KEYS[16]) == 0 then redis.call('RPUSH', KEYS[16], '1') end
end
return {moved, redis.call('ZCARD', KEYS[11])}
