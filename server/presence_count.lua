-- The online count of each scope, writing nothing: the members whose end is still ahead,
-- one ZCOUNT (O(log n)) per scope however many are online and however long it was idle.
-- See presence_heartbeat.lua for the layout.
-- KEYS: the scopes' sorted sets (one call may answer many readers).
-- ARGV[1] now in ms ('' = Redis TIME; tests set it).
local now = tonumber(ARGV[1])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('ZCOUNT', key, '(' .. now, '+inf')
end
return counts
