#!lua flags=no-writes
--[[ get_job: one job's record and state, read atomically.
  KEYS[1] jobs hash  relay:{q}:jobs      KEYS[2] run hash      relay:{q}:run
  KEYS[3] err hash   relay:{q}:err       KEYS[4] inflight zset relay:{q}:inflight
  KEYS[5] delayed    relay:{q}:delayed   KEYS[6] dead zset     relay:{q}:dead
  KEYS[7] done zset  relay:{q}:done
  ARGV[1] job id
  Returns: {} unknown (or trimmed) | {envelope, state, run ('' none), last error ('' none),
           score ('' for ready: the lease deadline, run_at, dead-at or finished-at in ms)} ]]
local env = redis.call('HGET', KEYS[1], ARGV[1])
if not env then return {} end
local run = redis.call('HGET', KEYS[2], ARGV[1]) or ''
local err = redis.call('HGET', KEYS[3], ARGV[1]) or ''
local states = {{4, 'inflight'}, {5, 'delayed'}, {6, 'dead'}, {7, 'completed'}}
for _, s in ipairs(states) do
  local score = redis.call('ZSCORE', KEYS[s[1]], ARGV[1])
  if score then return {env, s[2], run, err, score} end
end
return {env, 'ready', run, err, ''}
