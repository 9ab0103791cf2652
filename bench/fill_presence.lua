-- Bench only: the sorted-set layout the service used before, for comparison. Adds ARGV[2]
-- sessions (12-byte members) with expiry ARGV[1] ms to every set in KEYS, starting at
-- counter ARGV[3] so that chunks never repeat a member.
local expiry, count, first = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = first, first + count - 1 do
  local member = struct.pack('>I4I4I4', i, math.random(0, 2147483647), math.random(0, 2147483647))
  for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, expiry, member)
  end
end
return count
