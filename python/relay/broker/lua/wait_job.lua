#!lua flags=allow-oom
--[[ wait_job: sign up to be woken when a job finishes (completed, dead or cancelled), or give
  a sign-up back. The scripts that finish a job push one token per waiter on its wake list
  relay:{q}:fin:<id> and drop its entry here; the caller BLPOPs that list, so nobody polls.
  KEYS[1] jobs hash       relay:{q}:jobs
  KEYS[2] done zset       relay:{q}:done
  KEYS[3] dead zset       relay:{q}:dead
  KEYS[4] cancelled zset  relay:{q}:cancelled
  KEYS[5] waiting hash    relay:{q}:waiting   id -> callers waiting for the job to finish
  KEYS[6] wake list       relay:{q}:fin:<id>
  ARGV[1] job id   ARGV[2] 1 = sign up | -1 = give it back (the wait timed out)
  Returns: 1 signed up (or given back) | 0 already finished: no wait | -10 unknown ]]
local id = ARGV[1]
if ARGV[2] ~= '1' then
  local c = tonumber(redis.call('HGET', KEYS[5], id) or '0')
  if c > 1 then redis.call('HINCRBY', KEYS[5], id, -1) else redis.call('HDEL', KEYS[5], id) end
  return 1
end
if redis.call('HEXISTS', KEYS[1], id) == 0 then return -10 end
for k = 2, 4 do
  if redis.call('ZSCORE', KEYS[k], id) then return 0 end
end
-- The first waiter clears tokens left from an earlier finish (a dead job since requeued).
if redis.call('HINCRBY', KEYS[5], id, 1) == 1 then redis.call('DEL', KEYS[6]) end
return 1
