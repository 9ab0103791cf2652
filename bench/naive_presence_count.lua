-- Counts sessions whose expiry is still ahead, registering nothing: O(log N) per scope.
-- KEYS: the scopes to count (one call may answer many readers).
local now_parts = redis.call('TIME')
local now = now_parts[1] * 1000 + math.floor(now_parts[2] / 1000)
local counts = {}
for i, key in ipairs(KEYS) do
  counts[i] = redis.call('ZCOUNT', key, '(' .. now, '+inf')
end
return counts
