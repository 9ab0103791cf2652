-- Bench only: the two-hash layout the service used before this one (server/ at the commit
-- "Presence in two hashes per scope"), verbatim but for its clock, which the bench sets.
-- Presence per scope (the site, one page), in two hashes under the {presence} hash tag:
--   seen:   session member -> the second its presence ends (it counts while now < that second)
--   online: `total` (sessions counted), `swept` (the second up to which ended sessions were
--           taken off `total`), `cursor` (see below), and for each second still ahead, how
--           many sessions end then.
-- So the count is `total` minus the sessions of the few seconds not swept yet: a constant
-- cost however many are online, and one hash entry per session.
-- One call carries the heartbeats of many sessions (a batch), applied in order, each
-- answered with the counts right after its own heartbeat, exactly as if sent one by one.
-- KEYS: pairs (online, seen): the site's first, then one pair per page.
-- ARGV[1] now in seconds (the bench's clock), ARGV[2] ttl in seconds, ARGV[3] seen entries to check for leftovers per heartbeat, then
-- pairs: session member, index in KEYS of its page's `online` key (0: none).
-- Returns, per heartbeat, the site count and the page count (-1 without a page).
local now = tonumber(ARGV[1])
local ttl = tonumber(ARGV[2])
local checks = tonumber(ARGV[3])
-- Counted for at least `ttl` whole seconds: until the end of the second `ttl` from now.
local ends = now + ttl + 1
local scopes = {}
-- A field longer than hash-max-listpack-value keeps `seen` in Redis's hash-table encoding from
-- its first session on: the compact listpack encoding (used up to 512 small entries by
-- default) costs O(n) per lookup and hands its whole content to every HSCAN. It never ends.
local MARKER = string.rep('~', 128)

local function open(index)
  local scope = scopes[index]
  if scope then
    return scope
  end
  local online = KEYS[index]
  redis.call('HSETNX', KEYS[index + 1], MARKER, 9999999999)
  local state = redis.call('HMGET', online, 'total', 'swept')
  local total, swept = tonumber(state[1]) or 0, tonumber(state[2])
  if swept == nil or now - swept > ttl then
    -- Everyone counted here ended by now (at `swept + ttl + 1` at the latest): start over.
    redis.call('DEL', online)
    total = 0
  else
    for second = swept + 1, now do
      local ended = redis.call('HGET', online, second)
      if ended then
        total = total - tonumber(ended)
        redis.call('HDEL', online, second)
      end
    end
  end
  scope = { total = total, moves = {}, beats = 0 }
  scopes[index] = scope
  return scope
end

local function beat(index, member)
  local scope = open(index)
  local previous = tonumber(redis.call('HGET', KEYS[index + 1], member))
  redis.call('HSET', KEYS[index + 1], member, ends)
  if previous and previous > now then
    -- Still counted: it only moves from the second it was to end at.
    scope.moves[previous] = (scope.moves[previous] or 0) - 1
  else
    scope.total = scope.total + 1
  end
  scope.moves[ends] = (scope.moves[ends] or 0) + 1
  scope.beats = scope.beats + 1
  return scope.total
end

local counts = {}
for i = 4, #ARGV, 2 do
  local page = tonumber(ARGV[i + 1])
  counts[#counts + 1] = beat(1, ARGV[i])
  counts[#counts + 1] = page > 0 and beat(page, ARGV[i]) or -1
end

for index, scope in pairs(scopes) do
  local online, seen = KEYS[index], KEYS[index + 1]
  for second, change in pairs(scope.moves) do
    if change ~= 0 then
      redis.call('HINCRBY', online, second, change)
    end
  end
  -- Sessions that ended and never came back leave an entry in `seen`: each call checks a
  -- few entries per heartbeat, going on from where the last one stopped, and drops those.
  local cursor = redis.call('HGET', online, 'cursor') or '0'
  local found = redis.call('HSCAN', seen, cursor, 'COUNT', math.max(1, checks * scope.beats))
  local entries = found[2]
  for j = 1, #entries, 2 do
    if tonumber(entries[j + 1]) <= now then
      redis.call('HDEL', seen, entries[j])
    end
  end
  redis.call('HSET', online, 'total', scope.total, 'swept', now, 'cursor', found[1])
  -- Idle scopes vanish on their own once their last session has ended.
  redis.call('EXPIRE', online, ttl + 2)
  redis.call('EXPIRE', seen, ttl + 2)
end
return counts
