-- A session is online until its expiry time: the score in a sorted set per scope.
-- Adds (or refreshes) the session, drops members whose expiry has passed, and answers
-- the counts, all in one step. Idle scopes vanish through the key's own TTL.
-- KEYS[1] site set, KEYS[2] page set (optional); ARGV[1] session id, ARGV[2] ttl in ms.
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local ttl = tonumber(ARGV[2])
local counts = {}
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + ttl, ARGV[1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  redis.call('PEXPIRE', key, ttl)
  counts[i] = redis.call('ZCARD', key)
end
return counts
