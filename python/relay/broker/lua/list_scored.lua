#!lua flags=no-writes
--[[ list_scored: a page of a sorted state (delayed, inflight, dead, completed) from a cursor.
  KEYS[1] state zset  relay:{q}:delayed | inflight | dead | done   score = ms (Redis TIME)
  KEYS[2] jobs hash   relay:{q}:jobs      KEYS[3] run hash relay:{q}:run
  KEYS[4] err hash    relay:{q}:err
  ARGV[1] order: 'asc' (oldest score first) | 'desc' (newest first)
  ARGV[2] page size (1..500)   ARGV[3] most jobs examined per call (>= page size)
  ARGV[4] job type ('' = any)  ARGV[5] payload bytes kept per job (the preview)
  ARGV[6] cursor score ('' = from the start)   ARGV[7] cursor id
  The cursor is the (score, id) of the last job examined; the page starts at the first member
  after it in (score, member) order, found by rank (ZRANK, or a binary search among equal
  scores when the cursor's job has left): O(log N) wherever the page is. A job that stays keeps
  its score (an extended lease only grows), so none is skipped.
  Returns: {next score ('' = no more), next id,
            id, envelope (header + preview), envelope length, run ('' none), err ('' none),
            score, ...} ]]
local desc, limit, budget = ARGV[1] == 'desc', tonumber(ARGV[2]), tonumber(ARGV[3])
local jtype, preview = ARGV[4], tonumber(ARGV[5])
local key = KEYS[1]

local function less(a, b)  -- byte order, as Redis orders members of equal score
  for i = 1, math.min(#a, #b) do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end

-- Members before the cursor, and whether the cursor's own job is still there.
local function split(score, id)
  local s = redis.call('ZSCORE', key, id)
  if s and tonumber(s) == tonumber(score) then return redis.call('ZRANK', key, id), 1 end
  local lo = redis.call('ZCOUNT', key, '-inf', '(' .. score)
  local hi = lo + redis.call('ZCOUNT', key, score, score)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    if less(redis.call('ZRANGE', key, mid, mid)[1], id) then lo = mid + 1 else hi = mid end
  end
  return lo, 0
end

local total = redis.call('ZCARD', key)
local pos  -- the next rank to examine
if ARGV[6] == '' then
  pos = desc and total - 1 or 0
else
  local before, here = split(ARGV[6], ARGV[7])
  pos = desc and before - 1 or before + here
end

local function type_of(env)
  local n = string.byte(env, 17)
  return n and string.sub(env, 18, 17 + n)
end

local function head(env)
  local tn = string.byte(env, 17) or 0
  local kn = string.byte(env, 18 + tn) or 0
  return string.sub(env, 1, 18 + tn + kn + preview)
end

local rows, last, examined = {}, nil, 0
while pos >= 0 and pos < total and #rows < limit and examined < budget do
  local want = limit - #rows
  if jtype ~= '' then want = math.min(budget - examined, math.max(want, 200)) end
  local page
  if desc then
    page = redis.call('ZRANGE', key, math.max(0, pos - want + 1), pos, 'WITHSCORES')
  else
    page = redis.call('ZRANGE', key, pos, pos + want - 1, 'WITHSCORES')
  end
  local ids = {}
  for i = 1, #page, 2 do ids[#ids + 1] = page[i] end
  local n = #ids
  local envs = redis.call('HMGET', KEYS[2], unpack(ids))
  for j = 1, n do
    local i = desc and n - j + 1 or j
    examined = examined + 1
    pos = desc and pos - 1 or pos + 1
    last = {page[2 * i], ids[i]}
    local env = envs[i] or ''
    if jtype == '' or type_of(env) == jtype then
      rows[#rows + 1] = {ids[i], head(env), #env, page[2 * i]}
      if #rows == limit then break end
    end
  end
end

local reply = {'', ''}
if last and pos >= 0 and pos < total then reply = {last[1], last[2]} end
if #rows == 0 then return reply end
local ids = {}
for i, r in ipairs(rows) do ids[i] = r[1] end
local runs = redis.call('HMGET', KEYS[3], unpack(ids))
local errs = redis.call('HMGET', KEYS[4], unpack(ids))
for i, r in ipairs(rows) do
  reply[#reply + 1] = r[1]; reply[#reply + 1] = r[2]; reply[#reply + 1] = r[3]
  reply[#reply + 1] = runs[i] or ''; reply[#reply + 1] = errs[i] or ''; reply[#reply + 1] = r[4]
end
return reply
