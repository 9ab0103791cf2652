-- One vote per session: record the ballot only if the session has none, and count it in
-- the same step, so a retry or a race can never count twice.
-- KEYS[1] ballots hash (session -> option), KEYS[2] tally hash (option -> votes).
-- ARGV[1] session id, ARGV[2] option id.
-- Returns {1 if counted else 0, the session's (first) choice, the tally as HGETALL}.
local counted = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local choice = ARGV[2]
if counted == 1 then
  redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
  local now = redis.call('TIME')
  redis.call('HSET', KEYS[2], ':updated_at', now[1] .. '.' .. string.format('%06d', now[2]))
else
  choice = redis.call('HGET', KEYS[1], ARGV[1])
end
return {counted, choice, redis.call('HGETALL', KEYS[2])}
