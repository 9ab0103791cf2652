-- A poll's tally and, when a session is given, that session's choice, read together.
-- KEYS[1] ballots hash, KEYS[2] tally hash; ARGV[1] session id or ''.
local choice = false
if ARGV[1] ~= '' then
  choice = redis.call('HGET', KEYS[1], ARGV[1])
end
return {choice, redis.call('HGETALL', KEYS[2])}
