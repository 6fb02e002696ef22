#!lua flags=allow-oom
--[[ delete_scored: delete delayed or dead jobs for good, record and all: one job by id, or a
  chunk of a selection by type.
  KEYS[1] state zset     relay:{q}:delayed | relay:{q}:dead
  KEYS[2] jobs hash      relay:{q}:jobs   KEYS[3] run hash relay:{q}:run
  KEYS[4] err hash       relay:{q}:err
  KEYS[5] stats hash     relay:{q}:stats  (deleted += n)
  KEYS[6] events stream  relay:{q}:events
  ARGV[1] events stream cap (0 = no events)
  ARGV[2] job id, or '' for a selection: ARGV[3] job type ('' = any), ARGV[4] rank to start
          examining at (oldest first), ARGV[5] most jobs examined (<= 1000)
  Their group records (relay:{q}:grp, derived from KEYS[2], decision 0053) go too.
  A deleted flow child is cancelled for its parent (decision 0050): an outbox entry in
  relay:{q}:outbox, its link in relay:{q}:parent dropped (both derived from KEYS[2]).
  Returns: {1, told} deleted | {-8} that id is not in this state
         | {deleted, next rank, left in the state, told} for a selection (next rank >= left:
           done); told = outbox entries written (the caller applies them) ]]
local key = KEYS[1]
local pre = string.sub(KEYS[2], 1, -5)  -- relay:{q}:
local ids, gone = nil, {}
if ARGV[2] ~= '' then
  if not redis.call('ZSCORE', key, ARGV[2]) then return {-8} end
  ids, gone = {ARGV[2]}, {ARGV[2]}
else
  local start = tonumber(ARGV[4])
  ids = redis.call('ZRANGE', key, start, start + tonumber(ARGV[5]) - 1)
  if #ids == 0 then return {0, start, redis.call('ZCARD', key), 0} end
  if ARGV[3] == '' then
    gone = ids
  else
    local envs = redis.call('HMGET', KEYS[2], unpack(ids))
    for i, id in ipairs(ids) do
      local tn = string.byte(envs[i] or '', 17)
      if tn and string.sub(envs[i], 18, 17 + tn) == ARGV[3] then gone[#gone + 1] = id end
    end
  end
end
if #gone > 0 then
  redis.call('ZREM', key, unpack(gone))
  redis.call('HDEL', KEYS[2], unpack(gone))
  redis.call('HDEL', KEYS[3], unpack(gone))
  redis.call('HDEL', KEYS[4], unpack(gone))
  redis.call('HDEL', pre .. 'grp', unpack(gone))
  redis.call('HINCRBY', KEYS[5], 'deleted', #gone)
  if tonumber(ARGV[1]) > 0 then
    redis.call('XADD', KEYS[6], 'MAXLEN', '~', ARGV[1], '*', 'k', 'deleted', 'n', #gone,
      'ids', table.concat(gone, ' ', 1, math.min(#gone, 50)))
  end
end
-- #include to_parents
local told = tell_parents(pre, gone)
if ARGV[2] ~= '' then return {1, told} end
return {#gone, tonumber(ARGV[4]) + #ids - #gone, redis.call('ZCARD', key), told}
