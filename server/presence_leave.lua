-- A session leaves now. With a page: that page only (another tab of the session may still
-- show the site). Without one: the site and every page its record lists (so page_online
-- never exceeds online), its record gone and its address group one session lighter.
-- See presence_heartbeat.lua for the layout. Page keys are named from the record, under the
-- same {presence} hash tag as KEYS.
-- KEYS: site, sessions, addresses, scopes. ARGV: page key prefix, session member, 1 if the
-- page scopes are bounded by the `scopes` registry (no page list), else 0, the page's token
-- ('' for the whole site).
local site, sessions, addresses, scopes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, member, bounded, only = ARGV[1], ARGV[2], ARGV[3] == '1', ARGV[4]
local TOKEN = 8

local function off_page(token)
  local key = prefix .. (token:gsub('.', function(c) return string.format('%02x', c:byte()) end))
  redis.call('ZREM', key, member)
  if bounded and redis.call('EXISTS', key) == 0 then
    redis.call('ZREM', scopes, token)
  end
end

local record = redis.call('HGET', sessions, member)
if only ~= '' then
  off_page(only)
  if record then
    local kept = string.sub(record, 1, TOKEN)
    for i = TOKEN + 1, #record, TOKEN do
      local token = string.sub(record, i, i + TOKEN - 1)
      if token ~= only then
        kept = kept .. token
      end
    end
    if kept ~= record then
      redis.call('HSET', sessions, member, kept)
    end
  end
  return 1
end
redis.call('ZREM', site, member)
if not record then
  return 0
end
redis.call('HDEL', sessions, member)
local group = string.sub(record, 1, TOKEN)
if redis.call('HINCRBY', addresses, group, -1) <= 0 then
  redis.call('HDEL', addresses, group)
end
for i = TOKEN + 1, #record, TOKEN do
  off_page(string.sub(record, i, i + TOKEN - 1))
end
return 1
