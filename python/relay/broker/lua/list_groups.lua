#!lua flags=no-writes
--[[ list_groups: groups of a queue, busiest (largest ready backlog) first, or one group.
  KEYS[1] groups zset  relay:{q}:groups  live groups scored by ready backlog
  KEYS[2] due zset     relay:{q}:gdue    rate-parked groups by next token (ms)
  ARGV[1] key prefix relay:{q}: (each group's hash g:<g>)
  ARGV[2] most groups (1..1000)   ARGV[3] one group ('' = the busiest ARGV[2])
  Returns: {total, name, backlog, in_flight, weight, max_inflight, rate, burst, park,
            parked_until, ...} 9 fields per group; limits '' when not set ]]
local names, scores = {}, {}
if ARGV[3] ~= '' then
  names[1] = ARGV[3]; scores[1] = redis.call('ZSCORE', KEYS[1], ARGV[3]) or 0
else
  local r = redis.call('ZRANGE', KEYS[1], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, tonumber(ARGV[2]), 'WITHSCORES')
  for i = 1, #r, 2 do names[#names + 1] = r[i]; scores[#scores + 1] = r[i + 1] end
end
local reply = {redis.call('ZCARD', KEYS[1])}
for i, g in ipairs(names) do
  local h = redis.call('HMGET', ARGV[1] .. 'g:' .. g, 'n', 'w', 'cap', 'rate', 'burst', 'park')
  local row = {g, tostring(scores[i]), h[1] or '0', h[2] or '1', h[3] or '', h[4] or '', h[5] or '',
    h[6] or '', redis.call('ZSCORE', KEYS[2], g) or ''}
  for _, v in ipairs(row) do reply[#reply + 1] = v end
end
return reply
