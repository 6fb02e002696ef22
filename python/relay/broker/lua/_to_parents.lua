--[[ library to_parents: scripts.py pastes it in where a script includes it by name. ]]
-- flows (decision 0050): a finished child leaves an outbox entry for its parent in this slot;
-- the caller applies it to the parent's slot (flow_apply), a promoter replays it after a crash.
-- The link stays (the dashboard climbs it to the root): applying an outcome twice is a no-op.
-- links: the child -> parent hash (relay:{q}:parent), outbox: relay:{q}:outbox, both KEYS.
-- One HMGET and one HSET per call, whatever the number of children.
local function to_parents(links, outbox, list, tag, detail, out)
  if #list == 0 then return out end
  local refs = redis.call('HMGET', links, unpack(list))
  local h = {}
  for i, id in ipairs(list) do
    if refs[i] then
      local entry = refs[i] .. ' ' .. tag .. (detail[id] or '')
      h[#h + 1] = id; h[#h + 1] = entry
      out[#out + 1] = id; out[#out + 1] = entry
    end
  end
  if #h > 0 then redis.call('HSET', outbox, unpack(h)) end
  return out
end

-- A deleted job that is a flow's child is cancelled for its parent: an outbox entry (relay:{q}:
-- outbox), its link (relay:{q}:parent) dropped with its record; pre = relay:{q}:. How many
-- entries were written.
local function tell_parents(pre, gone)
  if #gone == 0 or redis.call('EXISTS', pre .. 'parent') == 0 then return 0 end
  local n = #to_parents(pre .. 'parent', pre .. 'outbox', gone, 'x', {}, {}) / 2
  redis.call('HDEL', pre .. 'parent', unpack(gone))
  return n
end
