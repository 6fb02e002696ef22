#!lua flags=no-writes
--[[ flow_results: the completed children's results of several parents of one queue, for their
  handlers' children_results() (decision 0050): one call however many parents ask at once.
  KEYS[1] jobs hash  relay:{q}:jobs  (names the slot; a parent's children hash
                     relay:{q}:flow:<id> derives from ARGV[1], same slot)
  ARGV[1] key prefix relay:{q}:
  ARGV[2..] parent ids
  Returns: per parent, {child id, result record, ...} of its completed children (fields whose
           outcome is 'c' .. record; dead or cancelled children are left out) ]]
local out = {}
for i = 2, #ARGV do
  local h = redis.call('HGETALL', ARGV[1] .. 'flow:' .. ARGV[i])
  local got = {}
  for j = 1, #h, 2 do
    local v = h[j + 1]
    if string.byte(v, 1) == 99 then  -- 'c': completed; '#', '?' and pending ('') are not
      got[#got + 1] = string.match(h[j], ' (.*)$')
      got[#got + 1] = string.sub(v, 2)
    end
  end
  out[#out + 1] = got
end
return out
