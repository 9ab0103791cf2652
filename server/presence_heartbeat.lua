-- A session is online until its expiry time: the score in a sorted set per scope.
-- One call carries the heartbeats of many sessions (a batch), applied in order, each
-- answered with the counts right after its own heartbeat, exactly as if sent one by one.
-- KEYS[1] the site set, KEYS[2..] page sets.
-- ARGV[1] ttl in ms, then pairs: session member, index in KEYS of its page set (0: none).
-- Returns, per heartbeat, the site count and the page count (-1 without a page).
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local ttl = tonumber(ARGV[1])
local expiry = now + ttl
-- Every heartbeat of the batch shares `now`, so trimming once first is trimming before each.
for _, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
end
local site = KEYS[1]
local counts = {}
for i = 2, #ARGV, 2 do
  redis.call('ZADD', site, expiry, ARGV[i])
  counts[#counts + 1] = redis.call('ZCARD', site)
  local page = tonumber(ARGV[i + 1])
  if page > 0 then
    redis.call('ZADD', KEYS[page], expiry, ARGV[i])
    counts[#counts + 1] = redis.call('ZCARD', KEYS[page])
  else
    counts[#counts + 1] = -1
  end
end
-- Idle scopes vanish through the key's own TTL.
for _, key in ipairs(KEYS) do
  redis.call('PEXPIRE', key, ttl)
end
return counts
