-- Void the ballots one address hash cast in a window, in one step: each is taken off the
-- tally and off the hour and day it was filed under in the series, and out of the abuse
-- index. The ballot itself stays, so the session still cannot vote again.
-- KEYS[1] ballots, KEYS[2] tally, KEYS[3] series, KEYS[4] prefixes sorted set, KEYS[5] the
-- address hash's sorted set (session -> when cast).
-- ARGV[1] UTC offset in seconds, ARGV[2] the address hash, ARGV[3] from, ARGV[4] to (unix
-- seconds, both included).
-- Returns the number of ballots voided.
local offset = tonumber(ARGV[1])
local cast = redis.call('ZRANGEBYSCORE', KEYS[5], ARGV[3], ARGV[4], 'WITHSCORES')
local voided = 0
for i = 1, #cast, 2 do
  local session = cast[i]
  local option = redis.call('HGET', KEYS[1], session)
  if option then
    local local_time = math.floor(tonumber(cast[i + 1])) + offset
    redis.call('HINCRBY', KEYS[2], option, -1)
    redis.call('HINCRBY', KEYS[3], 'h' .. math.floor(local_time / 3600) .. ':' .. option, -1)
    local day = 'd' .. math.floor(local_time / 86400)
    redis.call('HINCRBY', KEYS[3], day .. ':' .. option, -1)
    redis.call('HINCRBY', KEYS[3], day, -1)
    voided = voided + 1
  end
  redis.call('ZREM', KEYS[5], session)
end
if voided > 0 then
  if tonumber(redis.call('ZINCRBY', KEYS[4], -voided, ARGV[2])) <= 0 then
    redis.call('ZREM', KEYS[4], ARGV[2])
  end
  redis.call('HINCRBY', KEYS[2], ':voided', voided)
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], ':updated_at', now[1] .. '.' .. string.format('%06d', now[2]))
end
return voided
