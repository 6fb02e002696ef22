--[[ library grelease: scripts.py pastes it in where a script includes it by name. ]]
-- Groups (docs/decisions/0053-fair-groups.md): jobs leaving flight free their group's slots
-- (relay:{q}:gin is the ledger, gn the counts); a group with limits (gconf) parked at its cap
-- goes back into the rings of the priorities where it has jobs. Returns whether one did.
local function grelease(pre, list)
  if #list == 0 or redis.call('EXISTS', pre .. 'gin') == 0 then return false end
  local gs = redis.call('HMGET', pre .. 'gin', unpack(list))
  local per, order, gone = {}, {}, {}
  for i, g in ipairs(gs) do
    if g then
      if not per[g] then per[g] = 0; order[#order + 1] = g end
      per[g] = per[g] + 1; gone[#gone + 1] = list[i]
    end
  end
  if #gone == 0 then return false end
  redis.call('HDEL', pre .. 'gin', unpack(gone))
  local cur, set, del, n = redis.call('HMGET', pre .. 'gn', unpack(order)), {}, {}, {}
  for i, g in ipairs(order) do
    n[g] = (tonumber(cur[i]) or 0) - per[g]
    if n[g] > 0 then set[#set + 1] = g; set[#set + 1] = n[g] else del[#del + 1] = g end
  end
  if #set > 0 then redis.call('HSET', pre .. 'gn', unpack(set)) end
  if #del > 0 then redis.call('HDEL', pre .. 'gn', unpack(del)) end
  if redis.call('EXISTS', pre .. 'gconf') == 0 then return false end
  local back, limited = false, redis.call('SMISMEMBER', pre .. 'gconf', unpack(order))
  for i, g in ipairs(order) do
    local s = limited[i] == 1 and redis.call('HMGET', pre .. 'g:' .. g, 'park', 'cap') or {}
    if s[1] == 'cap' and (not s[2] or n[g] < tonumber(s[2])) then
      redis.call('HDEL', pre .. 'g:' .. g, 'park')
      for p = 0, 9 do
        local ring = pre .. 'gring:' .. p
        if redis.call('LLEN', pre .. 'gq:' .. p .. ':' .. g) > 0 and not redis.call('ZSCORE', ring, g) then
          local tail = redis.call('ZRANGE', ring, -1, -1, 'WITHSCORES')
          redis.call('ZADD', ring, (tonumber(tail[2]) or 0) + 1, g)
          back = true
        end
      end
    end
  end
  return back
end
