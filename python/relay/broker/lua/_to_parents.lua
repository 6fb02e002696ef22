--[[ library to_parents: scripts.py pastes it in where a script includes it by name. ]]
-- flows (decision 0050): a finished child leaves an outbox entry for its parent in this slot;
-- the caller applies it to the parent's slot (flow_apply), a promoter replays it after a crash.
-- The link stays (the dashboard climbs it to the root): applying an outcome twice is a no-op.
-- links: the child -> parent hash (relay:{q}:parent), outbox: relay:{q}:outbox, both KEYS.
local function to_parents(links, outbox, list, tag, detail, out)
  if #list == 0 then return out end
  local refs = redis.call('HMGET', links, unpack(list))
  for i, id in ipairs(list) do
    if refs[i] then
      local entry = refs[i] .. ' ' .. tag .. (detail[id] or '')
      redis.call('HSET', outbox, id, entry)
      out[#out + 1] = id; out[#out + 1] = entry
    end
  end
  return out
end
