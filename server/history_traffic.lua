-- Traffic history for what one worker saw in about a second of heartbeats, in one step.
-- Every key shares the {traffic} hash tag. KEYS: [1] days hash (kept for good: `o<day>`
-- online max, `u<day>` visitors, `v<day>` views, `total` visitors), [2] this day's hours hash
-- (`o<hour>`, `v<hour>`), [3] this hour's minutes hash (minute -> online max), [4] today's
-- session set, [5] today's per-address counts, [6] this month's HyperLogLog, [7] the
-- pages-now sorted set (page -> people on it at its last heartbeat), [8...] today's
-- page-view hashes (page -> views; pages are spread over a few hashes so each stays small
-- enough for Redis's compact encoding).
-- ARGV: [1] day, [2] hour of day, [3] minute of hour, [4] highest online count seen,
-- [5] visitors one address may add to a day, [6] views one address may add to a day,
-- [7] number of sessions, [8] number of view counts, then per session: session, address
-- key; per view count: address key, page ('' for none known), views, KEYS index of the
-- page's view hash (0: none); then pairs: page, people on it now (0 removes it).
-- Expiries: minutes 50 hours, hours and page views 401 days, sessions and addresses 2 days,
-- months 400 days.
local day, hod, moh = ARGV[1], ARGV[2], ARGV[3]
local online = tonumber(ARGV[4])
local visitor_cap, view_cap = tonumber(ARGV[5]), tonumber(ARGV[6])
local sessions, view_counts = tonumber(ARGV[7]), tonumber(ARGV[8])

local function raise(key, field)
  local current = tonumber(redis.call('HGET', key, field))
  if current == nil or online > current then
    redis.call('HSET', key, field, online)
  end
end
raise(KEYS[3], moh)
raise(KEYS[2], 'o' .. hod)
raise(KEYS[1], 'o' .. day)

-- Per address, one field counts both: visitors * VISITOR + views (views stop at their cap,
-- far below VISITOR), half the entries of two fields.
local VISITOR = 1048576
local visitors, views = 0, 0
local i = 9
for _ = 1, sessions do
  local member, address = ARGV[i], ARGV[i + 1]
  i = i + 2
  if redis.call('SISMEMBER', KEYS[4], member) == 0 then
    local counted = tonumber(redis.call('HGET', KEYS[5], address)) or 0
    if math.floor(counted / VISITOR) < visitor_cap then
      redis.call('SADD', KEYS[4], member)
      redis.call('PFADD', KEYS[6], member)
      redis.call('HSET', KEYS[5], address, counted + VISITOR)
      visitors = visitors + 1
    end
  end
end
for _ = 1, view_counts do
  local address, page, count, bucket =
    ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  i = i + 4
  local counted = tonumber(redis.call('HGET', KEYS[5], address)) or 0
  local allowed = math.min(count, view_cap - counted % VISITOR)
  if allowed > 0 then
    redis.call('HSET', KEYS[5], address, counted + allowed)
    views = views + allowed
    if bucket > 0 then
      redis.call('HINCRBY', KEYS[bucket], page, allowed)
      redis.call('EXPIRE', KEYS[bucket], 401 * 86400)
    end
  end
end
for j = i, #ARGV, 2 do
  local people = tonumber(ARGV[j + 1])
  if people > 0 then
    redis.call('ZADD', KEYS[7], people, ARGV[j])
  else
    redis.call('ZREM', KEYS[7], ARGV[j])
  end
end
if visitors > 0 then
  redis.call('HINCRBY', KEYS[1], 'u' .. day, visitors)
  redis.call('HINCRBY', KEYS[1], 'total', visitors)
end
if views > 0 then
  redis.call('HINCRBY', KEYS[1], 'v' .. day, views)
  redis.call('HINCRBY', KEYS[2], 'v' .. hod, views)
end
redis.call('EXPIRE', KEYS[2], 401 * 86400)
redis.call('EXPIRE', KEYS[3], 50 * 3600)
if sessions > 0 then
  redis.call('EXPIRE', KEYS[4], 2 * 86400)
  redis.call('EXPIRE', KEYS[5], 2 * 86400)
  redis.call('EXPIRE', KEYS[6], 400 * 86400)
end
return visitors
