#!lua
--[[ delete_schedule: remove one schedule of a queue (jobs it enqueued stay).
  KEYS[1] definitions hash  relay:{q}:sched
  KEYS[2] due zset          relay:{q}:sched:due
  KEYS[3] last runs hash    relay:{q}:sched:runs   name -> "<last_run_at ms> <job id>"
  ARGV[1] name
  Returns: 1 deleted | 0 no such schedule ]]
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return redis.call('HDEL', KEYS[1], ARGV[1])
