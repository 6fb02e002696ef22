#!lua flags=no-writes
--[[ stats: a queue's counts per state, totals, pause flag and limits, read atomically.
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] delayed  KEYS[12] inflight  KEYS[13] dead  KEYS[14] done   (zsets)
  KEYS[15] stats hash  KEYS[16] paused flag  KEYS[17] bucket hash  KEYS[18] conf hash
  KEYS[19] cancelled zset  KEYS[20] blocked zset (flows: parents waiting for children)
  Returns: {ready, delayed, inflight, dead, completed, paused 0|1, rate ('' none), burst,
            max_depth ('' none), cancelled, waiting, field, value, ...} the fields and values of the
            stats hash ]]
-- Ready: the plain lists, and grouped ready jobs (stats field gready, decision 0053).
local ready = tonumber(redis.call('HGET', KEYS[15], 'gready')) or 0
for k = 1, 10 do ready = ready + redis.call('LLEN', KEYS[k]) end
local limit = redis.call('HMGET', KEYS[17], 'rate', 'burst')
local reply = {
  ready, redis.call('ZCARD', KEYS[11]), redis.call('ZCARD', KEYS[12]),
  redis.call('ZCARD', KEYS[13]), redis.call('ZCARD', KEYS[14]), redis.call('EXISTS', KEYS[16]),
  limit[1] or '', limit[2] or '', redis.call('HGET', KEYS[18], 'max_depth') or '',
  redis.call('ZCARD', KEYS[19]), redis.call('ZCARD', KEYS[20]),
}
for _, v in ipairs(redis.call('HGETALL', KEYS[15])) do reply[#reply + 1] = v end
return reply
