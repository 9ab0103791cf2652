-- One vote per session: record the ballot only if the session has none, and count it in
-- the same step, so a retry or a race can never count twice. One call carries the votes of
-- many sessions for one poll (a batch), applied in order exactly as if sent one by one.
-- The same step files each counted vote in the poll's history: its hour and day (local
-- wall-clock numbers: Redis's clock plus the site's UTC offset), and, for the abuse view and
-- voiding, when it was cast under a keyed hash of the voter's address group.
-- KEYS[1] ballots hash (session -> option), KEYS[2] tally hash (option -> votes),
-- KEYS[3] series hash (`h<hour>:<option>`, `d<day>:<option>` -> votes, `d<day>` -> all the
-- day's votes, retired options too), KEYS[4] prefixes
-- sorted set (address hash -> ballots), KEYS[5...] one sorted set per address hash
-- (session -> when cast).
-- ARGV[1] the site's UTC offset in seconds, then per vote: session id, option id, address
-- hash, KEYS index of that address's sorted set.
-- Returns {the tally before the batch as HGETALL, the batch's `:updated_at` stamp (nil if
-- nothing was counted), then per vote: 1 if counted else 0, the session's (first) choice}.
local before = redis.call('HGETALL', KEYS[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1e6
local stamp = time[1] .. '.' .. string.format('%06d', time[2])
local local_now = math.floor(now) + tonumber(ARGV[1])
local hour = 'h' .. math.floor(local_now / 3600) .. ':'
local day_total = 'd' .. math.floor(local_now / 86400)
local day = day_total .. ':'
local results = {}
-- Counted in Lua as the batch goes, written once per option and address at the end: a
-- batch of n votes costs n HSETNX and a few writes, not seven writes per vote.
-- cast: KEYS index of an address's sorted set -> its new members (stamp, session, ...) and,
-- under `address`, the address hash (one per index: its ballots are #members / 2).
local per_option, cast, counted = {}, {}, 0
for i = 2, #ARGV, 4 do
  local session, option = ARGV[i], ARGV[i + 1]
  if redis.call('HSETNX', KEYS[1], session, option) == 1 then
    per_option[option] = (per_option[option] or 0) + 1
    local index = tonumber(ARGV[i + 3])
    local members = cast[index]
    if not members then
      members = { address = ARGV[i + 2] }
      cast[index] = members
    end
    members[#members + 1] = stamp
    members[#members + 1] = session
    counted = counted + 1
    results[#results + 1] = 1
    results[#results + 1] = option
  else
    results[#results + 1] = 0
    results[#results + 1] = redis.call('HGET', KEYS[1], session)
  end
end
if counted == 0 then
  return {before, false, results}
end
for option, votes in pairs(per_option) do
  redis.call('HINCRBY', KEYS[2], option, votes)
  redis.call('HINCRBY', KEYS[3], hour .. option, votes)
  redis.call('HINCRBY', KEYS[3], day .. option, votes)
end
redis.call('HINCRBY', KEYS[3], day_total, counted)
for index, members in pairs(cast) do
  for first = 1, #members, 2000 do
    redis.call('ZADD', KEYS[index], unpack(members, first, math.min(first + 1999, #members)))
  end
  redis.call('ZINCRBY', KEYS[4], #members / 2, members.address)
end
redis.call('HSET', KEYS[2], ':updated_at', stamp)
return {before, stamp, results}
