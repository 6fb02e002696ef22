#!lua flags=no-writes
--[[ flow_results: the children hashes of several parents of one queue, for their handlers'
  children_results() (decision 0050): one call however many parents ask at once. The hashes go
  back whole (the caller picks the completed children: Redis does no more than read them).
  KEYS[1] jobs hash  relay:{q}:jobs  (names the slot; a parent's children hash
                     relay:{q}:flow:<id> derives from ARGV[1], same slot)
  ARGV[1] key prefix relay:{q}:
  ARGV[2..] parent ids
  Returns: per parent, its children hash as HGETALL gives it ({} when gone) ]]
local out = {}
for i = 2, #ARGV do out[i - 1] = redis.call('HGETALL', ARGV[1] .. 'flow:' .. ARGV[i]) end
return out
