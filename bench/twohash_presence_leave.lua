-- Bench only: the two-hash layout's leave (see twohash_presence_heartbeat.lua), clock set.
-- A session leaves now: out of `seen`, and off the count if it was still counted.
-- See presence_heartbeat.lua for the layout.
-- KEYS: pairs (online, seen) of the scopes it leaves. ARGV[1] the session member, ARGV[2]
-- now in seconds (the bench's clock).
local now = tonumber(ARGV[2])
for i = 1, #KEYS, 2 do
  local ends = tonumber(redis.call('HGET', KEYS[i + 1], ARGV[1]))
  redis.call('HDEL', KEYS[i + 1], ARGV[1])
  if ends and ends > now and redis.call('EXISTS', KEYS[i]) == 1 then
    redis.call('HINCRBY', KEYS[i], ends, -1)
    redis.call('HINCRBY', KEYS[i], 'total', -1)
  end
end
return 0
