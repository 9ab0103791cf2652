-- Bench only: the two-hash layout's count (see twohash_presence_heartbeat.lua), clock set.
-- The online count of each scope, writing nothing: `total` minus the sessions that ended in
-- the seconds not swept yet (at most `ttl` + 1 of them): a constant cost, however many are
-- online. See presence_heartbeat.lua for the layout.
-- KEYS: the scopes' `online` hashes (one call may answer many readers). ARGV[1] now (s, the bench's clock), ARGV[2] ttl (s).
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local counts = {}
for i, online in ipairs(KEYS) do
  local state = redis.call('HMGET', online, 'total', 'swept')
  local total, swept = tonumber(state[1]) or 0, tonumber(state[2])
  if swept == nil or now - swept > ttl then
    total = 0
  else
    for second = swept + 1, now do
      total = total - (tonumber(redis.call('HGET', online, second)) or 0)
    end
  end
  counts[i] = total
end
return counts
