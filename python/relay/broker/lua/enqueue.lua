#!lua
--[[ enqueue: add jobs to one queue, deduplicating by id and by idempotency key.
  KEYS[1..10] ready lists   relay:{q}:ready:9 .. relay:{q}:ready:0 (claim order)
  KEYS[11] delayed zset     relay:{q}:delayed   score = run_at (ms, Redis TIME)
  KEYS[12] jobs hash        relay:{q}:jobs      id -> envelope
  KEYS[13] conf hash        relay:{q}:conf      max_depth
  KEYS[14] stats hash       relay:{q}:stats
  KEYS[15] events stream    relay:{q}:events
  KEYS[16] wake list        relay:{q}:wake      pushed for new ready jobs, and for a delayed job
                            due before every other delayed one (the promoter's sleep is stale)
  ARGV[1] key prefix relay:{q}: (derived: relay:{q}:idem:<key>, value "<id> <fingerprint>")
  ARGV[2] idempotency window (ms)   ARGV[3] events stream cap (entries; 0 = no events)
  ARGV[4..] 7 per job: id, envelope, delay (ms), run_at (unix ms, -1 = none),
            idempotency key ('' = none), payload fingerprint, group ('' = none)
  A grouped job (docs/decisions/0053-fair-groups.md) is recorded in relay:{q}:grp (id -> group)
  and, when ready, goes to its group's list relay:{q}:gq:<p>:<group>; the group joins the
  ring relay:{q}:gring:<p> unless it is parked (a group with limits, relay:{q}:gconf, whose
  hash g:<group> has field park), and its backlog is counted in relay:{q}:groups and the stats
  field gready.
  Returns: {1, id, dup, ...} one pair per job, dup 0 = new | 1 = repeat (id is the first job's)
         | {-3, index, existing id} key reused with another payload: nothing written
         | {-4, depth, max_depth} queue full: nothing written
         | {-5, index} malformed envelope: nothing written ]]
local W = 7
local count = (#ARGV - 3) / W
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Validate everything before the first write.
local batch_keys = {}
for i = 0, count - 1 do
  local b = 4 + i * W
  local v, p = string.byte(ARGV[b + 1], 1, 2)
  if v ~= 1 or p == nil or p > 9 or #ARGV[b + 6] > 128 then return {-5, i + 1} end
  local ikey, fp = ARGV[b + 4], ARGV[b + 5]
  if ikey ~= '' then
    local seen = redis.call('GET', ARGV[1] .. 'idem:' .. ikey)
    local sid, sfp
    if seen then sid, sfp = string.match(seen, '^(%S+) (%S*)$') else sid, sfp = unpack(batch_keys[ikey] or {}) end
    if sid and sfp ~= fp then return {-3, i + 1, sid} end
    batch_keys[ikey] = batch_keys[ikey] or {ARGV[b], fp}
  end
end
local max_depth = tonumber(redis.call('HGET', KEYS[13], 'max_depth') or '0')
if max_depth > 0 then
  local depth = redis.call('ZCARD', KEYS[11]) + (tonumber(redis.call('HGET', KEYS[14], 'gready')) or 0)
  for k = 1, 10 do depth = depth + redis.call('LLEN', KEYS[k]) end
  if depth + count > max_depth then return {-4, depth, max_depth} end
end

local reply, ready, delayed, fresh, grouped, gof = {1}, {}, {}, {}, {}, {}
for i = 0, count - 1 do
  local b = 4 + i * W
  local id, env, ikey = ARGV[b], ARGV[b + 1], ARGV[b + 4]
  local dup
  if ikey ~= '' then
    local k = ARGV[1] .. 'idem:' .. ikey
    local seen = redis.call('GET', k)
    if seen then dup = string.match(seen, '^(%S+)')
    else redis.call('SET', k, id .. ' ' .. ARGV[b + 5], 'PX', ARGV[2]) end
  end
  if not dup and redis.call('HSETNX', KEYS[12], id, env) == 0 then dup = id end
  if dup then
    reply[#reply + 1] = dup; reply[#reply + 1] = 1
  else
    reply[#reply + 1] = id; reply[#reply + 1] = 0
    fresh[#fresh + 1] = id
    local g = ARGV[b + 6]
    if g ~= '' then gof[#gof + 1] = id; gof[#gof + 1] = g end
    local run_at = tonumber(ARGV[b + 3])
    if run_at < 0 then run_at = now + tonumber(ARGV[b + 2]) end
    if run_at > now then
      delayed[#delayed + 1] = run_at; delayed[#delayed + 1] = id
    elseif g ~= '' then
      local p = string.byte(env, 2)
      local gl = p .. ':' .. g
      if not grouped[gl] then grouped[gl] = {p, g, {}}; grouped[#grouped + 1] = gl end
      table.insert(grouped[gl][3], id)
    else
      local p = string.byte(env, 2)
      ready[p] = ready[p] or {}
      table.insert(ready[p], id)
    end
  end
end

local nready = 0
for p, ids in pairs(ready) do
  redis.call('RPUSH', KEYS[10 - p], unpack(ids))
  nready = nready + #ids
end
-- Grouped jobs: their group recorded; ready ones onto their group's list. A list that was
-- empty puts its group at the end of its priority's ring (ZADD NX), unless the group is parked.
local pre = ARGV[1]
if #gof > 0 then redis.call('HSET', pre .. 'grp', unpack(gof)) end
if #grouped > 0 then
  local joins, added, names = {}, {}, {}
  local limits = redis.call('EXISTS', pre .. 'gconf') == 1
  for _, gl in ipairs(grouped) do
    local p, g, ids = unpack(grouped[gl])
    local len = redis.call('RPUSH', pre .. 'gq:' .. p .. ':' .. g, unpack(ids))
    if len == #ids and not (limits and redis.call('HGET', pre .. 'g:' .. g, 'park')) then
      joins[p] = joins[p] or {}
      table.insert(joins[p], g)
    end
    if not added[g] then added[g] = 0; names[#names + 1] = g end
    added[g] = added[g] + #ids
    nready = nready + #ids
  end
  for p, list in pairs(joins) do
    local ring = pre .. 'gring:' .. p
    local tail = tonumber(redis.call('ZRANGE', ring, -1, -1, 'WITHSCORES')[2]) or 0
    local z = {}
    for i, g in ipairs(list) do z[#z + 1] = tail + i; z[#z + 1] = g end
    redis.call('ZADD', ring, 'NX', unpack(z))
  end
  local cur, z, n = redis.call('ZMSCORE', pre .. 'groups', unpack(names)), {}, 0
  for i, g in ipairs(names) do
    z[#z + 1] = (tonumber(cur[i]) or 0) + added[g]; z[#z + 1] = g
    n = n + added[g]
  end
  redis.call('ZADD', pre .. 'groups', unpack(z))
  redis.call('HINCRBY', KEYS[14], 'gready', n)
end
-- A delayed job that is due before every other one wakes an idle worker, whose promoter then
-- sleeps until exactly its run_at (instead of finding it at its next poll, up to 1 s late).
local woken = nready > 0
if #delayed > 0 then
  local head = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
  local first = delayed[1]
  for i = 3, #delayed, 2 do first = math.min(first, delayed[i]) end
  woken = woken or #head == 0 or first < tonumber(head[2])
  redis.call('ZADD', KEYS[11], unpack(delayed))
end
if #fresh > 0 then
  redis.call('HINCRBY', KEYS[14], 'enqueued', #fresh)
  if tonumber(ARGV[3]) > 0 then
    redis.call('XADD', KEYS[15], 'MAXLEN', '~', ARGV[3], '*', 'k', 'enqueued', 'n', #fresh,
      'ids', table.concat(fresh, ' ', 1, math.min(#fresh, 50)))
  end
end
if woken and redis.call('LLEN', KEYS[16]) == 0 then redis.call('RPUSH', KEYS[16], '1') end
return reply
