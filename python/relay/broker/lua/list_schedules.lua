#!lua
--[[ list_schedules: schedules of a queue with their state, a page at a time (or one by name).
  KEYS[1] definitions hash  relay:{q}:sched
  KEYS[2] due zset          relay:{q}:sched:due
  KEYS[3] last runs hash    relay:{q}:sched:runs   name -> "<last_run_at ms> <job id>"
  ARGV[1] name ('' = a page of all)   ARGV[2] HSCAN cursor   ARGV[3] page size hint
  Returns: {next cursor ('0' = done), name, record, next_run_at ms (-1 paused), last run ('' none),
            ...} 4 per schedule; one name that does not exist gives {'0'} ]]
local names
local cursor = '0'
if ARGV[1] ~= '' then
  names = {ARGV[1]}
else
  local r = redis.call('HSCAN', KEYS[1], ARGV[2], 'COUNT', tonumber(ARGV[3]))
  cursor, names = r[1], {}
  for i = 1, #r[2], 2 do names[#names + 1] = r[2][i] end
end
local out = {cursor}
for _, name in ipairs(names) do
  local rec = redis.call('HGET', KEYS[1], name)
  if rec then
    local score = redis.call('ZSCORE', KEYS[2], name)
    out[#out + 1] = name
    out[#out + 1] = rec
    out[#out + 1] = score or '-1'
    out[#out + 1] = redis.call('HGET', KEYS[3], name) or ''
  end
end
return out
