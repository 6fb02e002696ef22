#!lua
--[[ fire_schedules: enqueue each due tick's job once and advance the schedule (compare-and-set).
  KEYS[1..10] ready lists   relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] delayed zset     relay:{q}:delayed   (counted against max_depth, as are the stats
                            field gready and the plain lists)
  KEYS[12] jobs hash        relay:{q}:jobs      id -> envelope
  KEYS[13] conf hash        relay:{q}:conf      max_depth
  KEYS[14] stats hash       relay:{q}:stats
  KEYS[15] events stream    relay:{q}:events
  KEYS[16] wake list        relay:{q}:wake
  KEYS[17] definitions hash relay:{q}:sched     name -> "<timing key>\n<JSON>"
  KEYS[18] due zset         relay:{q}:sched:due name scored by next_run_at (ms)
  KEYS[19] last runs hash   relay:{q}:sched:runs name -> "<last_run_at ms> <job id>"
  ARGV[1] events stream cap (entries; 0 = no events)
  ARGV[2..] 7 per schedule: name, tick read (ms; the CAS: still the score?), SHA1 of the record
            read (the CAS: still the definition?), next_run_at (ms), job id ('' = advance only:
            a skipped misfire), envelope ('' with no job), group ('' = none)
  A grouped job (docs/decisions/0053-fair-groups.md) is written as enqueue writes one: its group
  in relay:{q}:grp, the job on its group's list gq:<p>:<g>, the group into the ring gring:<p>
  unless parked (g:<g> has field park), the backlog in groups and the stats field gready (keys
  derived from KEYS[12]'s prefix).
  The job id derives from (schedule, tick): two workers racing on one tick both send the same
  id and the same tick, and only the first passes the compare-and-set.
  Returns: {outcome, ...} one per schedule: 1 job enqueued | 2 advanced, no job
         | 0 lost the race (tick already fired, or the schedule changed): nothing written
         | -4 queue full: advanced, the tick's job not enqueued
         | {-5, index} malformed envelope: nothing written ]]
local W = 7
local count = (#ARGV - 1) / W
for i = 0, count - 1 do
  local env = ARGV[2 + i * W + 5]
  if ARGV[2 + i * W + 4] ~= '' then
    local v, p = string.byte(env, 1, 2)
    if v ~= 1 or p == nil or p > 9 or #ARGV[2 + i * W + 6] > 128 then return {-5, i + 1} end
  end
end
local pre = string.sub(KEYS[12], 1, -5)  -- relay:{q}:
-- A grouped job: recorded, onto its group's list, the group into its ring unless parked.
-- #include gpush
local max_depth = tonumber(redis.call('HGET', KEYS[13], 'max_depth') or '0')
local depth = -1
local reply, fresh = {}, {}
for i = 0, count - 1 do
  local b = 2 + i * W
  local name, id, env, g = ARGV[b], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  local score = redis.call('ZSCORE', KEYS[18], name)
  local rec = redis.call('HGET', KEYS[17], name)
  local out = 0
  if score and tonumber(score) == tonumber(ARGV[b + 1]) and rec
      and redis.sha1hex(rec) == ARGV[b + 2] then
    out = 2
    if id ~= '' then
      if max_depth > 0 and depth < 0 then
        depth = redis.call('ZCARD', KEYS[11])
        depth = depth + (tonumber(redis.call('HGET', KEYS[14], 'gready')) or 0)
        for k = 1, 10 do depth = depth + redis.call('LLEN', KEYS[k]) end
      end
      if max_depth > 0 and depth >= max_depth then
        out = -4
      else
        out = 1
        if redis.call('HSETNX', KEYS[12], id, env) == 1 then
          if g ~= '' then
            redis.call('HSET', pre .. 'grp', id, g)
            gpush(pre, g, string.byte(env, 2), id)
          else redis.call('RPUSH', KEYS[10 - string.byte(env, 2)], id) end
          fresh[#fresh + 1] = id
          depth = depth + 1
        end
        redis.call('HSET', KEYS[19], name, ARGV[b + 1] .. ' ' .. id)
      end
    end
    redis.call('ZADD', KEYS[18], ARGV[b + 3], name)
  end
  reply[#reply + 1] = out
end
if #fresh > 0 then
  redis.call('HINCRBY', KEYS[14], 'enqueued', #fresh)
  if tonumber(ARGV[1]) > 0 then
    redis.call('XADD', KEYS[15], 'MAXLEN', '~', ARGV[1], '*', 'k', 'enqueued', 'n', #fresh,
      'ids', table.concat(fresh, ' ', 1, math.min(#fresh, 50)))
  end
  if redis.call('LLEN', KEYS[16]) == 0 then redis.call('RPUSH', KEYS[16], '1') end
end
return reply
