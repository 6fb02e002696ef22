#!lua flags=no-writes
--[[ list_groups: a queue's groups, busiest first, or one group (docs/decisions/0053).
  KEYS[1] backlog zset  relay:{q}:groups    groups with ready jobs, scored by how many
  KEYS[2] counts hash   relay:{q}:gn        limited group -> jobs in flight
  KEYS[3] conf set      relay:{q}:gconf     groups with limits
  KEYS[4] due zset      relay:{q}:gdue      rate-parked groups by next token (ms)
  KEYS[5] inflight zset relay:{q}:inflight
  KEYS[6] group hash    relay:{q}:grp       id -> group
  ARGV[1] key prefix relay:{q}: (each limited group's hash g:<g>)
  ARGV[2] most groups (1..1000)   ARGV[3] one group ('' = a page)
  In flight: counted for groups with limits (gn); for the others, read from the first 10,000
  jobs in flight (a lower bound beyond that). A page: the ARGV[2] largest backlogs, then groups
  with jobs in flight only, then groups with limits and nothing to do (one SSCAN pass).
  Returns: {with backlog, in flight only, with limits, in flight sampled 0|1, name, backlog,
            in_flight, weight, max_inflight, rate, burst, park, parked_until, ...} 9 fields per
            group; limits '' when not set ]]
local limit = tonumber(ARGV[2])
local names, seen = {}, {}
local function add(g)
  if not seen[g] and #names < limit then seen[g] = true; names[#names + 1] = g end
end
local flying = redis.call('ZRANGE', KEYS[5], 0, 9999)
local sampled = #flying == 10000 and 1 or 0
local busy = {}  -- group -> jobs in flight, for groups without limits
if #flying > 0 and redis.call('EXISTS', KEYS[6]) == 1 then
  for _, g in ipairs(redis.call('HMGET', KEYS[6], unpack(flying))) do
    if g then busy[g] = (busy[g] or 0) + 1 end
  end
end
local counted = redis.call('HGETALL', KEYS[2])
for i = 1, #counted, 2 do busy[counted[i]] = tonumber(counted[i + 1]) end
local flight_only = 0
if ARGV[3] ~= '' then
  add(ARGV[3])
else
  for _, g in ipairs(redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, limit)) do add(g) end
  local only = {}
  for g in pairs(busy) do only[#only + 1] = g end
  table.sort(only)
  local scores = #only > 0 and redis.call('ZMSCORE', KEYS[1], unpack(only)) or {}
  for i, g in ipairs(only) do
    if not scores[i] then flight_only = flight_only + 1; add(g) end
  end
  if #names < limit then
    for _, g in ipairs(redis.call('SSCAN', KEYS[3], 0, 'COUNT', limit)[2]) do add(g) end
  end
end
local reply = {redis.call('ZCARD', KEYS[1]), flight_only, redis.call('SCARD', KEYS[3]), sampled}
for _, g in ipairs(names) do
  local h = {}
  if redis.call('SISMEMBER', KEYS[3], g) == 1 then
    h = redis.call('HMGET', ARGV[1] .. 'g:' .. g, 'w', 'cap', 'rate', 'burst', 'park')
  end
  local row = {g, redis.call('ZSCORE', KEYS[1], g) or '0', tostring(busy[g] or 0),
    h[1] or '1', h[2] or '', h[3] or '', h[4] or '', h[5] or '', redis.call('ZSCORE', KEYS[4], g) or ''}
  for _, v in ipairs(row) do reply[#reply + 1] = v end
end
return reply
