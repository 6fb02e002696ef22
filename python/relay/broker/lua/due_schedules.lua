#!lua
--[[ due_schedules: the schedules whose tick has come, read-only; one bounded call per tick.
  KEYS[1] due zset          relay:{q}:sched:due   name scored by next_run_at (ms, Redis TIME)
  KEYS[2] definitions hash  relay:{q}:sched       name -> "<timing key>\n<JSON>"
  ARGV[1] most schedules per call
  Cost: O(log n + due) whatever the number of schedules; when none is due, one ZRANGE of the
  earliest (and TIME) and nothing else.
  Returns: {0, -1} no active schedule | {now ms, wait ms until the next tick (-1 none, 0 more due now), name, tick ms,
            record, ...} 3 per due schedule ]]
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 then return {0, -1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if tonumber(first[2]) > now then return {now, tonumber(first[2]) - now} end
local limit = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'WITHSCORES', 'LIMIT', 0, limit)
local out = {now, -1}
for i = 1, #due, 2 do
  out[#out + 1] = due[i]
  out[#out + 1] = due[i + 1]
  out[#out + 1] = redis.call('HGET', KEYS[2], due[i]) or ''
end
if #due / 2 >= limit then
  out[2] = 0
else
  local nxt = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #nxt > 0 then out[2] = tonumber(nxt[2]) - now end
end
return out
