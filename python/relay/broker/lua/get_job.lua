#!lua flags=no-writes
--[[ get_job: one job's record and state, read atomically.
  KEYS[1] jobs hash  relay:{q}:jobs      KEYS[2] run hash      relay:{q}:run
  KEYS[3] err hash   relay:{q}:err       KEYS[4] inflight zset relay:{q}:inflight
  KEYS[5] delayed    relay:{q}:delayed   KEYS[6] dead zset     relay:{q}:dead
  KEYS[7] done zset  relay:{q}:done      KEYS[8] cancelled zset relay:{q}:cancelled
  KEYS[9] results hash relay:{q}:res     KEYS[10] progress hash relay:{q}:prog
  KEYS[11] cancel set relay:{q}:cancel    KEYS[12] blocked zset relay:{q}:blocked (flows)
  ARGV[1] job id
  Returns: {} unknown (or trimmed) | {envelope, state, run ('' none), last error ('' none),
           score ('' for ready: lease deadline, run_at, dead-at, finished-at; created-at when waiting),
           result record ('' none), progress ('' none), cancel asked for (0|1),
           group ('' none: relay:{q}:grp, derived from KEYS[1], decision 0053)} ]]
local id = ARGV[1]
local env = redis.call('HGET', KEYS[1], id)
if not env then return {} end
local run = redis.call('HGET', KEYS[2], id) or ''
local err = redis.call('HGET', KEYS[3], id) or ''
local res = redis.call('HGET', KEYS[9], id) or ''
local prog = redis.call('HGET', KEYS[10], id) or ''
local group = redis.call('HGET', string.sub(KEYS[1], 1, -5) .. 'grp', id) or ''
local states = {{4, 'inflight'}, {5, 'delayed'}, {6, 'dead'}, {7, 'completed'}, {8, 'cancelled'},
  {12, 'waiting'}}
for _, s in ipairs(states) do
  local score = redis.call('ZSCORE', KEYS[s[1]], id)
  if score then
    local flag = 0
    if s[1] == 4 then flag = redis.call('SISMEMBER', KEYS[11], id) end
    return {env, s[2], run, err, score, res, prog, flag, group}
  end
end
return {env, 'ready', run, err, '', res, prog, 0, group}
