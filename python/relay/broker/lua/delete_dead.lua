#!lua flags=allow-oom
--[[ delete_dead: remove one job from the dead set, record and all.
  KEYS[1] dead zset  relay:{q}:dead   KEYS[2] jobs hash relay:{q}:jobs
  KEYS[3] run hash   relay:{q}:run    KEYS[4] err hash  relay:{q}:err
  ARGV[1] job id
  Its group record (relay:{q}:grp, derived from KEYS[2], decision 0053) goes too.
  Returns: 1 deleted | -7 that id is not in the dead set ]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return -7 end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', string.sub(KEYS[2], 1, -5) .. 'grp', ARGV[1])
return 1
