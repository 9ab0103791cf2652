-- One vote per session: record the ballot only if the session has none, and count it in
-- the same step, so a retry or a race can never count twice. One call carries the votes of
-- many sessions for one poll (a batch), applied in order exactly as if sent one by one.
-- KEYS[1] ballots hash (session -> option), KEYS[2] tally hash (option -> votes).
-- ARGV: pairs of session id, option id.
-- Returns {the tally before the batch as HGETALL, the batch's `:updated_at` stamp (nil if
-- nothing was counted), then per vote: 1 if counted else 0, the session's (first) choice}.
local before = redis.call('HGETALL', KEYS[2])
local results = {}
local counted_any = false
for i = 1, #ARGV, 2 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) == 1 then
    redis.call('HINCRBY', KEYS[2], ARGV[i + 1], 1)
    counted_any = true
    results[#results + 1] = 1
    results[#results + 1] = ARGV[i + 1]
  else
    results[#results + 1] = 0
    results[#results + 1] = redis.call('HGET', KEYS[1], ARGV[i])
  end
end
local stamp = false
if counted_any then
  local now = redis.call('TIME')
  stamp = now[1] .. '.' .. string.format('%06d', now[2])
  redis.call('HSET', KEYS[2], ':updated_at', stamp)
end
return {before, stamp, results}
