#!lua flags=allow-oom
--[[ delete_ready: delete ready jobs for good, record and all: one job by id, or a chunk of a
  selection by type.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] jobs hash       relay:{q}:jobs   KEYS[12] run hash relay:{q}:run
  KEYS[13] err hash        relay:{q}:err
  KEYS[14] stats hash      relay:{q}:stats  (deleted += n)
  KEYS[15] events stream   relay:{q}:events
  ARGV[1] events stream cap (0 = no events)
  ARGV[2] job id, or '' for a selection: ARGV[3] job type ('' = any), ARGV[4] list (1..10,
          a KEYS index), ARGV[5] index in it to start examining at, ARGV[6] most examined (<= 1000),
          ARGV[7] a group's name when KEYS[1..10] are that group's lists gq:9:<g> .. gq:0:<g>
          ('' or absent: the plain lists)
  A selection marks the chosen entries with LSET and drops them with one LREM: O(index + chunk).
  One ready grouped job (decision 0053) leaves its group's list instead: relay:{q}:grp,
  gq:<p>:<g>, gring:<p> and groups derive from KEYS[11]'s name; so does a selection in a group's
  lists, with the same bookkeeping (backlog in groups and the stats field gready, the group out
  of its ring once its list is empty). Deleted jobs' grp entries go with their records.
  A deleted flow child is cancelled for its parent (decision 0050): an outbox entry in
  relay:{q}:outbox, its link in relay:{q}:parent dropped (both derived from KEYS[11]).
  Returns: {1, told} deleted | {-8} that id is not ready
         | {deleted, next list (0 = done), next index, told} for a selection; told = outbox
           entries written (the caller applies them) ]]
local TOMB = '\0relay:deleted\0'
local gone, nlist, nstart = {}, 0, 0
local pre = string.sub(KEYS[11], 1, -5)  -- relay:{q}:

local function left_group(g, p, list, n)  -- n jobs left group g's list of priority p
  if tonumber(redis.call('ZINCRBY', pre .. 'groups', -n, g)) <= 0 then
    redis.call('ZREM', pre .. 'groups', g)
  end
  redis.call('HINCRBY', KEYS[14], 'gready', -n)
  if redis.call('EXISTS', list) == 0 then redis.call('ZREM', pre .. 'gring:' .. p, g) end
end

local function ungroup(id, p)  -- 1 when the job left its group's ready list, else 0
  local g = redis.call('HGET', pre .. 'grp', id)
  local list = g and pre .. 'gq:' .. p .. ':' .. g
  if not list or redis.call('LREM', list, 1, id) == 0 then return 0 end
  left_group(g, p, list, 1)
  return 1
end

if ARGV[2] ~= '' then
  local p = string.byte(redis.call('HGET', KEYS[11], ARGV[2]) or '', 2)
  if not p or p > 9 then return {-8} end
  if ungroup(ARGV[2], p) == 0 and redis.call('LREM', KEYS[10 - p], 1, ARGV[2]) == 0 then
    return {-8}
  end
  gone = {ARGV[2]}
else
  local list, start = tonumber(ARGV[4]), tonumber(ARGV[5])
  local ids = {}
  while list <= 10 do
    ids = redis.call('LRANGE', KEYS[list], start, start + tonumber(ARGV[6]) - 1)
    if #ids > 0 then break end
    list, start = list + 1, 0
  end
  if list > 10 then return {0, 0, 0, 0} end
  local envs = redis.call('HMGET', KEYS[11], unpack(ids))
  for i, id in ipairs(ids) do
    local tn = string.byte(envs[i] or '', 17)
    if ARGV[3] == '' or (tn and string.sub(envs[i], 18, 17 + tn) == ARGV[3]) then
      gone[#gone + 1] = id
      redis.call('LSET', KEYS[list], start + i - 1, TOMB)
    end
  end
  if #gone > 0 then
    redis.call('LREM', KEYS[list], #gone, TOMB)
    local g = ARGV[7] or ''
    if g ~= '' then left_group(g, 10 - list, KEYS[list], #gone) end
  end
  nlist, nstart = list, start + #ids - #gone
end
if #gone > 0 then
  redis.call('HDEL', KEYS[11], unpack(gone))
  redis.call('HDEL', KEYS[12], unpack(gone))
  redis.call('HDEL', KEYS[13], unpack(gone))
  redis.call('HDEL', pre .. 'grp', unpack(gone))
  redis.call('HINCRBY', KEYS[14], 'deleted', #gone)
  if tonumber(ARGV[1]) > 0 then
    redis.call('XADD', KEYS[15], 'MAXLEN', '~', ARGV[1], '*', 'k', 'deleted', 'n', #gone,
      'ids', table.concat(gone, ' ', 1, math.min(#gone, 50)))
  end
end
-- #include to_parents
local told = tell_parents(pre, gone)
if ARGV[2] ~= '' then return {1, told} end
return {#gone, nlist, nstart, told}
