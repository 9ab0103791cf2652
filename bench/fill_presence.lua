-- Bench only: add ARGV[2] sessions (12-byte members, as the service stores them, or 16
-- characters when ARGV[4] is '16') with expiry ARGV[1] ms to every set in KEYS, starting at
-- counter ARGV[3] so that calls in chunks never repeat a member.
local expiry, count, first = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wide = ARGV[4] == '16'
for i = first, first + count - 1 do
  local member = struct.pack('>I4I4I4', i, math.random(0, 2147483647), math.random(0, 2147483647))
  if wide then
    member = string.format('%08x%08x', i, math.random(0, 2147483647))
  end
  for _, key in ipairs(KEYS) do
    redis.call('ZADD', key, expiry, member)
  end
end
return count
