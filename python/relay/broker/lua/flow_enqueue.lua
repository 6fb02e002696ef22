#!lua
--[[ flow_enqueue: write one queue's share of a flow (decision 0050); parents before children.
  KEYS[1..10] ready lists   relay:{q}:ready:9 .. relay:{q}:ready:0 (claim order)
  KEYS[11] delayed zset     relay:{q}:delayed   score = run_at (ms, Redis TIME)
  KEYS[12] jobs hash        relay:{q}:jobs      id -> envelope
  KEYS[13] stats hash       relay:{q}:stats
  KEYS[14] events stream    relay:{q}:events
  KEYS[15] wake list        relay:{q}:wake
  KEYS[16] blocked zset     relay:{q}:blocked   parents waiting for children, score = created
  KEYS[17] parent hash      relay:{q}:parent    child id -> "<parent queue> <parent id>"
  ARGV[1] key prefix relay:{q}: (a parent's children: relay:{q}:flow:<id>, same slot)
  ARGV[2] events stream cap (0 = no events)
  ARGV[3..] 7 per job: id, envelope, delay (ms), run_at (unix ms, -1 = none),
            parent ("<queue> <id>", '' = a root), children ('' = none, else the policy
            "fail" | "ignore" then one "<queue> <id>" per child, newline-separated; a
            parent's delay or run_at is kept in its children hash as '@' = due at, ms),
            group ('' = none)
  A job already there is left alone (a replay of the flow's intent writes nothing twice).
  A grouped job (docs/decisions/0053-fair-groups.md) is written as enqueue writes one: its group
  recorded in relay:{q}:grp (id -> group; a waiting parent's too, so flow_apply and promote
  route it), and when ready it goes to its group's list gq:<p>:<g>, the group into the ring
  gring:<p> unless parked (g:<g> has field park), the backlog counted in groups and the stats
  field gready. These keys derive from ARGV[1].
  Returns: {1, written} | {-5, index} malformed envelope: nothing written ]]
local W = 7
local count = (#ARGV - 2) / W
for i = 0, count - 1 do
  local v, p = string.byte(ARGV[3 + i * W + 1], 1, 2)
  if v ~= 1 or p == nil or p > 9 or #ARGV[3 + i * W + 6] > 128 then return {-5, i + 1} end
end
-- A ready grouped job onto its group's list, the group into its priority's ring unless parked.
-- #include gpush
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fresh, woken = {}, false
for i = 0, count - 1 do
  local b = 3 + i * W
  local id, env, parent, kids, g = ARGV[b], ARGV[b + 1], ARGV[b + 4], ARGV[b + 5], ARGV[b + 6]
  if redis.call('HSETNX', KEYS[12], id, env) == 1 then
    fresh[#fresh + 1] = id
    if g ~= '' then redis.call('HSET', ARGV[1] .. 'grp', id, g) end
    if parent ~= '' then redis.call('HSET', KEYS[17], id, parent) end
    if kids ~= '' then
      local key, h, n = ARGV[1] .. 'flow:' .. id, nil, 0
      for line in string.gmatch(kids, '[^\n]+') do
        if not h then h = {'?', line} else h[#h + 1] = line; h[#h + 1] = ''; n = n + 1 end
        if #h >= 1000 then redis.call('HSET', key, unpack(h)); h = {} end
      end
      h[#h + 1] = '#'; h[#h + 1] = n
      local at = tonumber(ARGV[b + 3])  -- a parent's own delay: released no sooner than this
      if at < 0 then at = now + tonumber(ARGV[b + 2]) end
      if at > now then h[#h + 1] = '@'; h[#h + 1] = at end
      redis.call('HSET', key, unpack(h))
      redis.call('ZADD', KEYS[16], now, id)
    else
      local run_at = tonumber(ARGV[b + 3])
      if run_at < 0 then run_at = now + tonumber(ARGV[b + 2]) end
      if run_at > now then
        redis.call('ZADD', KEYS[11], run_at, id)
      elseif g ~= '' then
        gpush(ARGV[1], g, string.byte(env, 2), id)
        woken = true
      else
        redis.call('RPUSH', KEYS[10 - string.byte(env, 2)], id)
        woken = true
      end
    end
  end
end
if #fresh > 0 then
  redis.call('HINCRBY', KEYS[13], 'enqueued', #fresh)
  if tonumber(ARGV[2]) > 0 then
    redis.call('XADD', KEYS[14], 'MAXLEN', '~', ARGV[2], '*', 'k', 'enqueued', 'n', #fresh,
      'ids', table.concat(fresh, ' ', 1, math.min(#fresh, 50)))
  end
end
if woken and redis.call('LLEN', KEYS[15]) == 0 then redis.call('RPUSH', KEYS[15], '1') end
return {1, #fresh}
