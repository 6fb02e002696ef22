#!lua
--[[ upsert_schedule: create or replace one schedule of a queue.
  KEYS[1] definitions hash  relay:{q}:sched       name -> "<timing key>\n<JSON>"
  KEYS[2] due zset          relay:{q}:sched:due   name scored by next_run_at (ms, Redis TIME)
  ARGV[1] name   ARGV[2] record "<timing key>\n<JSON>" (validated by the caller)
  ARGV[3] next_run_at (unix ms, computed by the caller from Redis TIME; -1 = paused)
  ARGV[4] SHA1 of the record the caller read ('' = replace whatever is there)
  An unchanged timing key keeps the planned next_run_at (a worker restart re-syncing the same
  schedule moves no tick); a changed one, or a resume, takes ARGV[3].
  Returns: {1, next_run_at} created | {0, next_run_at} replaced | {2, next_run_at} unchanged
         | {-1, 0} the record is not the one read (ARGV[4]): nothing written
           (next_run_at -1 while paused) ]]
local old = redis.call('HGET', KEYS[1], ARGV[1])
if ARGV[4] ~= '' and (not old or redis.sha1hex(old) ~= ARGV[4]) then return {-1, 0} end
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if old == ARGV[2] then return {2, score and tonumber(score) or -1} end
local next_at = tonumber(ARGV[3])
if next_at < 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  local same = old and string.match(old, '^[^\n]*') == string.match(ARGV[2], '^[^\n]*')
  if same and score then next_at = tonumber(score) else redis.call('ZADD', KEYS[2], next_at, ARGV[1]) end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {old and 0 or 1, next_at}
