#!lua flags=allow-oom
--[[ set_group: set one group's weight, concurrency cap and token bucket (a PUT: a limit left
  out is removed; no limits at all removes the group's settings). The caller validated them.
  docs/decisions/0053-fair-groups.md.
  KEYS[1] conf set     relay:{q}:gconf   groups with limits (only they have a hash g:<g>)
  KEYS[2] due zset     relay:{q}:gdue    rate-parked groups by next token (ms)
  KEYS[3] wake list    relay:{q}:wake
  KEYS[4] counts hash  relay:{q}:gn      group -> jobs in flight
  ARGV[1] key prefix relay:{q}: (the group's hash g:<g>, lists gq:<p>:<g>, rings gring:<p>)
  ARGV[2] group   ARGV[3] weight ('' = 1)   ARGV[4] max_inflight ('' = none)
  ARGV[5] rate (jobs/s, '' = none)   ARGV[6] burst ('' with no rate)
  A group parked at its cap or by its bucket goes back into its rings when the new limits may
  let it run (claim parks it again if not); a changed bucket starts full.
  Returns: {1} ]]
local pre, g = ARGV[1], ARGV[2]
local gk = pre .. 'g:' .. g
local old = redis.call('HMGET', gk, 'rate', 'burst', 'park')
local rate, burst = ARGV[5] ~= '' and ARGV[5] or false, ARGV[6] ~= '' and ARGV[6] or false
redis.call('HDEL', gk, 'w', 'cap', 'rate', 'burst')
if old[1] ~= rate or old[2] ~= burst then redis.call('HDEL', gk, 'tokens', 'ts') end
local set = {}
if ARGV[3] ~= '' and ARGV[3] ~= '1' then set[#set + 1] = 'w'; set[#set + 1] = ARGV[3] end
if ARGV[4] ~= '' then set[#set + 1] = 'cap'; set[#set + 1] = ARGV[4] end
if rate then
  set[#set + 1] = 'rate'; set[#set + 1] = rate; set[#set + 1] = 'burst'; set[#set + 1] = burst
end
local park = old[3]
local n = tonumber(redis.call('HGET', KEYS[4], g)) or 0
local free = (park == 'cap' and (ARGV[4] == '' or n < tonumber(ARGV[4])))
  or (park == 'rate' and (rate ~= old[1] or burst ~= old[2]))
if #set > 0 then
  redis.call('HSET', gk, unpack(set))
  redis.call('SADD', KEYS[1], g)
elseif not park or free then
  redis.call('DEL', gk)
  redis.call('SREM', KEYS[1], g)
end
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
end
return {1}
