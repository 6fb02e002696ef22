#!lua flags=no-writes
--[[ list_ready: a page of ready jobs in claim order (priority 9 first, FIFO within a priority).
  KEYS[1..10] ready lists  relay:{q}:ready:9 .. relay:{q}:ready:0
  KEYS[11] jobs hash       relay:{q}:jobs      id -> envelope
  KEYS[12] run hash        relay:{q}:run       id -> "attempts token started_ms crashes[ worker]"
  KEYS[13] err hash        relay:{q}:err       id -> last error
  KEYS[14..17] inflight, delayed, dead, done zsets (only to tell whether an anchor is ready)
  ARGV[1] page size (1..500)   ARGV[2] most jobs examined per call (>= page size)
  ARGV[3] job type ('' = any)  ARGV[4] payload bytes kept per job (the preview)
  ARGV[5] list to resume in (1..10, a KEYS index)   ARGV[6] index in it where the page starts
  ARGV[7..] anchors: ids that ended the previous page, the last one first (none: first page)
  A list only loses ids (claims from its head, deletes) or gains them at its ends (enqueues at
  the tail, reaped jobs at the head): ids that stay keep their order. So the page resumes just
  after the first anchor still in the list (found near its old index, else by LPOS from the
  nearer end); when none is, from the list's head, which repeats jobs but never skips one.
  Returns: {next list (0 = no more), next index, anchor, anchor, anchor ('' pads),
            id, envelope (header + preview), envelope length, run ('' none), err ('' none), ...} ]]
local limit, budget, jtype = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local preview, list, start = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local WINDOW = 500

local function is_ready(id)
  if redis.call('HEXISTS', KEYS[11], id) == 0 then return false end
  for k = 14, 17 do
    if redis.call('ZSCORE', KEYS[k], id) then return false end
  end
  return true
end

if #ARGV >= 7 then
  local key, found = KEYS[list], nil
  local lo = math.max(0, start - 1 - WINDOW)
  local pos = {}
  for i, id in ipairs(redis.call('LRANGE', key, lo, start - 1 + WINDOW)) do pos[id] = lo + i - 1 end
  local from_tail = start * 2 > redis.call('LLEN', key)  -- LPOS from the nearer end
  for a = 7, #ARGV do
    found = pos[ARGV[a]]
    if not found and is_ready(ARGV[a]) then
      found = redis.call('LPOS', key, ARGV[a], 'RANK', from_tail and -1 or 1)
    end
    if found then break end
  end
  start = found and found + 1 or 0
end

local function type_of(env)
  local n = string.byte(env, 17)
  return n and string.sub(env, 18, 17 + n)
end

local function head(env)  -- the envelope up to the payload, then the payload's first bytes
  local tn = string.byte(env, 17) or 0
  local kn = string.byte(env, 18 + tn) or 0
  return string.sub(env, 1, 18 + tn + kn + preview)
end

local rows, tail, examined = {}, {}, 0
while list <= 10 and #rows < limit and examined < budget do
  local want = limit - #rows
  if jtype ~= '' then want = math.min(budget - examined, math.max(want, 200)) end
  local ids = redis.call('LRANGE', KEYS[list], start, start + want - 1)
  if #ids == 0 then
    list, start, tail = list + 1, 0, {}
  else
    local envs = redis.call('HMGET', KEYS[11], unpack(ids))
    for i, id in ipairs(ids) do
      examined, start = examined + 1, start + 1
      table.insert(tail, 1, id)
      tail[4] = nil
      local env = envs[i] or ''
      if jtype == '' or type_of(env) == jtype then
        rows[#rows + 1] = {id, head(env), #env}
        if #rows == limit then break end
      end
    end
  end
end

-- Stopped on a full page at the very end: say so now rather than with an empty next page.
if list <= 10 and redis.call('LLEN', KEYS[list]) <= start then
  list, start, tail = list + 1, 0, {}
  while list <= 10 and redis.call('LLEN', KEYS[list]) == 0 do list = list + 1 end
end
if list > 10 then list = 0 end
local reply = {list, start, tail[1] or '', tail[2] or '', tail[3] or ''}
if #rows == 0 then return reply end
local ids = {}
for i, r in ipairs(rows) do ids[i] = r[1] end
local runs = redis.call('HMGET', KEYS[12], unpack(ids))
local errs = redis.call('HMGET', KEYS[13], unpack(ids))
for i, r in ipairs(rows) do
  reply[#reply + 1] = r[1]; reply[#reply + 1] = r[2]; reply[#reply + 1] = r[3]
  reply[#reply + 1] = runs[i] or ''; reply[#reply + 1] = errs[i] or ''
end
return reply
