-- A session leaves now: off the site and off every page its record lists (so page_online
-- never exceeds online), its record gone and its address group one session lighter.
-- See presence_heartbeat.lua for the layout. Page keys are named from the record, under the
-- same {presence} hash tag as KEYS.
-- KEYS: site, sessions, addresses, scopes. ARGV: page key prefix, session member, 1 if the
-- page scopes are bounded by the `scopes` registry (no page list), else 0.
local site, sessions, addresses, scopes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, member, bounded = ARGV[1], ARGV[2], ARGV[3] == '1'
local TOKEN = 8
redis.call('ZREM', site, member)
local record = redis.call('HGET', sessions, member)
if not record then
  return 0
end
redis.call('HDEL', sessions, member)
local group = string.sub(record, 1, TOKEN)
if redis.call('HINCRBY', addresses, group, -1) <= 0 then
  redis.call('HDEL', addresses, group)
end
for i = TOKEN + 1, #record, TOKEN do
  local token = string.sub(record, i, i + TOKEN - 1)
  local key = prefix .. (token:gsub('.', function(c) return string.format('%02x', c:byte()) end))
  redis.call('ZREM', key, member)
  if bounded and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', scopes, token)
  end
end
return 1
