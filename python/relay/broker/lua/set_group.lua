#!lua flags=allow-oom
--[[ set_group: set one group's weight, concurrency cap and token bucket (a PUT: a limit left
  out is removed; docs/decisions/0053-fair-groups.md). The caller validated the values.
  KEYS[1] groups zset  relay:{q}:groups  live groups scored by ready backlog
  KEYS[2] due zset     relay:{q}:gdue    rate-parked groups by next token (ms)
  KEYS[3] wake list    relay:{q}:wake
  ARGV[1] key prefix relay:{q}: (the group's hash g:<g>, lists gq:<p>:<g>, rings gring:<p>)
  ARGV[2] group   ARGV[3] weight ('' = 1)   ARGV[4] max_inflight ('' = none)
  ARGV[5] rate (jobs/s, '' = none)   ARGV[6] burst ('' with no rate)
  A group parked at its cap or by its bucket goes back into its rings when the new limits let
  it run; a changed bucket starts full.
  Returns: {1} ]]
local pre, g = ARGV[1], ARGV[2]
local gk = pre .. 'g:' .. g
local old = redis.call('HMGET', gk, 'rate', 'burst', 'park', 'n')
redis.call('HDEL', gk, 'w', 'cap', 'rate', 'burst')
if old[1] ~= (ARGV[5] ~= '' and ARGV[5] or false) or old[2] ~= (ARGV[6] ~= '' and ARGV[6] or false) then
  redis.call('HDEL', gk, 'tokens', 'ts')
end
local set = {}
if ARGV[3] ~= '' and ARGV[3] ~= '1' then set[#set + 1] = 'w'; set[#set + 1] = ARGV[3] end
if ARGV[4] ~= '' then set[#set + 1] = 'cap'; set[#set + 1] = ARGV[4] end
if ARGV[5] ~= '' then
  set[#set + 1] = 'rate'; set[#set + 1] = ARGV[5]; set[#set + 1] = 'burst'; set[#set + 1] = ARGV[6]
end
if #set > 0 then
  redis.call('HSET', gk, unpack(set))
  redis.call('ZADD', KEYS[1], 'NX', 0, g)
end
local n, park = tonumber(old[4]) or 0, old[3]
local free = (park == 'cap' and (ARGV[4] == '' or n < tonumber(ARGV[4])))
  or (park == 'rate' and (ARGV[5] ~= old[1] or ARGV[6] ~= old[2]))
if free then
  redis.call('HDEL', gk, 'park')
  redis.call('ZREM', KEYS[2], g)
  for p = 0, 9 do
    local ring = pre .. 'gring:' .. p
    if redis.call('LLEN', pre .. 'gq:' .. p .. ':' .. g) > 0 and not redis.call('ZSCORE', ring, g) then
      local tail = redis.call('ZRANGE', ring, -1, -1, 'WITHSCORES')
      redis.call('ZADD', ring, (tonumber(tail[2]) or 0) + 1, g)
    end
  end
  if redis.call('LLEN', KEYS[3]) == 0 then redis.call('RPUSH', KEYS[3], '1') end
elseif #set == 0 and not park and n <= 0 and (tonumber(redis.call('ZSCORE', KEYS[1], g)) or 0) <= 0 then
  redis.call('ZREM', KEYS[1], g)  -- no limits, no jobs: nothing left of the group
  redis.call('DEL', gk)
end
return {1}
