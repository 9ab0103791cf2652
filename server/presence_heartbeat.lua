-- Heartbeats: each session is online until the end its last heartbeat promised (now + ttl).
-- Layout, every key under the {presence} hash tag (`v3:` names; see server/presence.py):
--   site      sorted set: session member -> end of its presence (ms); the site count is
--             the members whose end is ahead
--   page:<t>  the same for one page scope (t: 16 hex digits of the page's hash)
--   sessions  hash: session member -> its record, the 8 bytes of its address group followed
--             by the 8-byte tokens of the pages it is counted on (latest first, at most 7)
--   addresses hash: address group -> sessions of that group counted online
--   scopes    sorted set: page token -> latest end promised there; only without a page list,
--             to bound how many page scopes exist at once
--   peaks     hash: sorted set key -> the most members it held (see `compact`)
-- Ended sessions are removed on every call (ZREMRANGEBYSCORE of what ended), so memory
-- follows the sessions online now; every key expires when the latest end promised in it
-- has passed (up to a second later).
-- One call carries the heartbeats of many sessions (a batch), applied in order, each
-- answered with the counts right after its own heartbeat, exactly as if sent one by one.
-- KEYS: site, sessions, addresses, scopes, peaks.
-- ARGV: page key prefix, now in ms ('' = Redis TIME; tests set it), ttl in ms, most page
-- scopes (0: no bound, the pages were checked against the site's list), most sessions
-- online per address group, then triples: session member, address group, page token ('').
-- Returns, per heartbeat: the site count, the page count (-1: no page scope), 1 if counted.
local site, sessions, addresses, scopes, peaks = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local prefix = ARGV[1]
local now = tonumber(ARGV[2])
if not now then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
local ttl, max_scopes, max_per_address = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local ends = now + ttl
local SLACK = 1000
-- A record is at most 64 bytes (8 + 7 pages x 8), so small record hashes stay compact.
local TOKEN, MAX_PAGES = 8, 7

local names = {}
local function page_key(token)
  local key = names[token]
  if not key then
    key = prefix .. (token:gsub('.', function(c) return string.format('%02x', c:byte()) end))
    names[token] = key
  end
  return key
end

-- A session's record goes, and its address group counts one session fewer.
local function forget(member)
  local record = redis.call('HGET', sessions, member)
  if record then
    redis.call('HDEL', sessions, member)
    local group = string.sub(record, 1, TOKEN)
    if redis.call('HINCRBY', addresses, group, -1) <= 0 then
      redis.call('HDEL', addresses, group)
    end
  end
end

for _, member in ipairs(redis.call('ZRANGEBYSCORE', site, '-inf', now)) do
  forget(member)
end
redis.call('ZREMRANGEBYSCORE', site, '-inf', now)
if max_scopes > 0 then
  redis.call('ZREMRANGEBYSCORE', scopes, '-inf', now)
end
-- Counts kept here as the call goes: every member left after the trim is online.
local online = redis.call('ZCARD', site)
local opened = {} -- page token -> its count, once opened (trimmed) in this call
local shrank = {} -- page token -> true if it lost members in this call

-- Off one page scope; a scope left empty leaves the registry too.
local function off_page(token, member)
  local key = page_key(token)
  if redis.call('ZREM', key, member) == 1 then
    shrank[token] = true
    if opened[token] then
      opened[token] = opened[token] - 1
    end
  end
  if max_scopes > 0 and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', scopes, token)
  end
end

-- A page scope may count this session: always with a page list, else while there is room
-- in the registry (which takes the scope in at once, so one call cannot overfill it).
local admitted = {}
local function admit(token)
  if max_scopes == 0 then
    return true
  end
  if admitted[token] == nil then
    local known = tonumber(redis.call('ZSCORE', scopes, token))
    admitted[token] = known ~= nil or redis.call('ZCARD', scopes) < max_scopes
    if admitted[token] and (known or 0) < ends then
      redis.call('ZADD', scopes, 'GT', ends + SLACK, token)
    end
  end
  return admitted[token]
end

local function open(token)
  local key = page_key(token)
  if not opened[token] then
    if redis.call('ZREMRANGEBYSCORE', key, '-inf', now) > 0 then
      shrank[token] = true
    end
    opened[token] = redis.call('ZCARD', key)
  end
  return key
end

local function page_count(token)
  if token == '' or (max_scopes > 0 and not redis.call('ZSCORE', scopes, token)) then
    return -1
  end
  return opened[token] or redis.call('ZCOUNT', page_key(token), '(' .. now, '+inf')
end

-- The record's pages with `token` first, at most MAX_PAGES: the page seen longest ago is
-- dropped, and the session off it.
local function moved_to(token, pages, member)
  local others = ''
  for i = 1, #pages, TOKEN do
    local other = string.sub(pages, i, i + TOKEN - 1)
    if other ~= token then
      others = others .. other
    end
  end
  pages = token .. others
  while #pages > MAX_PAGES * TOKEN do
    off_page(string.sub(pages, -TOKEN), member)
    pages = string.sub(pages, 1, -TOKEN - 1)
  end
  return pages
end

local function beat(member, group, token)
  local record = redis.call('HGET', sessions, member)
  if not record then
    if (tonumber(redis.call('HGET', addresses, group)) or 0) >= max_per_address then
      return online, page_count(token), 0
    end
    redis.call('HINCRBY', addresses, group, 1)
  else
    group = string.sub(record, 1, TOKEN) -- the group it was first counted in
  end
  online = online + redis.call('ZADD', site, ends, member)
  local pages = record and string.sub(record, TOKEN + 1) or ''
  local count = -1
  if token ~= '' and admit(token) then
    local key = open(token)
    opened[token] = opened[token] + redis.call('ZADD', key, ends, member)
    count = opened[token]
    if string.sub(pages, 1, TOKEN) ~= token then
      pages = moved_to(token, pages, member)
    end
  end
  -- Never counted on a page longer than on the site: page_online <= online.
  for i = 1, #pages, TOKEN do
    local other = string.sub(pages, i, i + TOKEN - 1)
    if other ~= token then
      redis.call('ZADD', page_key(other), 'XX', 'LT', ends, member)
    end
  end
  local updated = group .. pages
  if updated ~= record then
    redis.call('HSET', sessions, member, updated)
  end
  return online, count, 1
end

-- A key lives until the latest end promised in it, and up to SLACK longer: a busy key's
-- expiry moves once per SLACK, not on every call. Set relative to `now`, so that a clock
-- the tests set works too. The keys after the first go with it.
local function keep(key, ...)
  if redis.call('PTTL', key) < ttl then
    for _, k in ipairs({ key, ... }) do
      redis.call('PEXPIRE', k, ttl + SLACK)
    end
  end
end

-- A key that once held many members keeps what it grew: a small one stays in Redis's big
-- encoding (skiplist, hash table: about four times the bytes per member of the listpack),
-- and its hash table shrinks late (a sorted set's never, in Redis 7.0). So every key this
-- call touched is rewritten when it holds less than half its peak (`peaks`: key -> the most
-- members since it was last written; kept for keys over COMPACT), or when it is small
-- (up to COMPACT members: below Redis's listpack limits) and not compact. A rewrite costs
-- what the key holds and follows at least as many removals: amortised O(1) per session.
local COMPACT = 64
local function rewrite(key, kind)
  local left = redis.call('PTTL', key)
  if kind == 'zset' then
    local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    redis.call('DEL', key)
    for first = 1, #all, 2000 do
      local args = {}
      for i = first, math.min(first + 1999, #all), 2 do
        args[#args + 1] = all[i + 1]
        args[#args + 1] = all[i]
      end
      redis.call('ZADD', key, unpack(args))
    end
  else
    local all = redis.call('HGETALL', key)
    redis.call('DEL', key)
    for first = 1, #all, 2000 do
      redis.call('HSET', key, unpack(all, first, math.min(first + 1999, #all)))
    end
  end
  if left > 0 then
    redis.call('PEXPIRE', key, left)
  end
end

local function set_peak(key, size)
  redis.call('HSET', peaks, key, size)
  if redis.call('PTTL', peaks) < ttl then
    redis.call('PEXPIRE', peaks, ttl + SLACK)
  end
end

local function compact(key, kind, size, peak)
  size = size or redis.call(kind == 'zset' and 'ZCARD' or 'HLEN', key)
  if size == 0 then
    return
  end
  if peak == nil then
    peak = redis.call('HGET', peaks, key)
  end
  peak = tonumber(peak) or 0
  if size > peak and size > COMPACT then
    set_peak(key, size)
  elseif size * 2 < peak or (size <= COMPACT and peak > 0) then
    rewrite(key, kind)
    if size > COMPACT then
      set_peak(key, size)
    else
      redis.call('HDEL', peaks, key)
    end
  end
end

-- The site's keys: `sessions` holds one record per member of `site`, so both have `online`
-- members; `addresses` and `scopes` have at most that many.
local function compact_site()
  local peak = redis.call('HMGET', peaks, site, sessions, addresses, scopes)
  compact(site, 'zset', online, peak[1])
  compact(sessions, 'hash', online, peak[2])
  if online > COMPACT or peak[3] then
    compact(addresses, 'hash', nil, peak[3])
  end
  if max_scopes > 0 and (online > COMPACT or peak[4]) then
    compact(scopes, 'zset', nil, peak[4])
  end
end

local counts = {}
local counted = false
for i = 6, #ARGV, 3 do
  local site_count, count, took = beat(ARGV[i], ARGV[i + 1], ARGV[i + 2])
  counts[#counts + 1] = site_count
  counts[#counts + 1] = count
  counts[#counts + 1] = took
  counted = counted or took == 1
end
for token, size in pairs(opened) do
  if size > 0 then
    local key = page_key(token)
    if shrank[token] or size > COMPACT then
      compact(key, 'zset', size)
    end
    keep(key)
  end
end
compact_site()
if counted then
  keep(site, sessions, addresses)
  if max_scopes > 0 then
    keep(scopes)
  end
end
return counts
