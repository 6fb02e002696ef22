--[[ library gpush: scripts.py pastes it in where a script includes it by name. ]]
-- Groups (docs/decisions/0053-fair-groups.md): a grouped job goes back onto its group's list
-- (at the head when `head`), the group into its priority's ring unless it is parked.
local function gpush(pre, g, p, id, head)
  redis.call(head and 'LPUSH' or 'RPUSH', pre .. 'gq:' .. p .. ':' .. g, id)
  redis.call('ZINCRBY', pre .. 'groups', 1, g)
  redis.call('HINCRBY', pre .. 'stats', 'gready', 1)
  if not redis.call('HGET', pre .. 'g:' .. g, 'park') then
    local ring = pre .. 'gring:' .. p
    if not redis.call('ZSCORE', ring, g) then
      local tail = redis.call('ZRANGE', ring, -1, -1, 'WITHSCORES')
      redis.call('ZADD', ring, (tonumber(tail[2]) or 0) + 1, g)
    end
  end
end
