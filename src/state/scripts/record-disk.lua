-- record-disk: one host's disk use per instance, measured now. Replaces
-- what the host's hash said (an instance gone from the host is gone from
-- it) and raises each instance's maximum of the day.
--
-- KEYS[1]       the host's disk hash
-- KEYS[2 ..]    the day hash of each instance, in ARGV order
-- ARGV[1]       when measured (ISO 8601)
-- ARGV[2]       `<cluster>:<host>`, the host's field in the day hashes
-- ARGV[3]       expiry of the day hashes (unix seconds)
-- ARGV[4 ..]    per instance: `<app>.<env>`, bytes
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '@at', ARGV[1])
for i = 2, #KEYS do
  local field, bytes = ARGV[2 + 2 * (i - 1)], tonumber(ARGV[3 + 2 * (i - 1)])
  redis.call('HSET', KEYS[1], field, bytes)
  local max = tonumber(redis.call('HGET', KEYS[i], ARGV[2]) or '-1')
  if bytes > max then redis.call('HSET', KEYS[i], ARGV[2], bytes) end
  redis.call('HSET', KEYS[i], ARGV[2] .. ':last', bytes)
  redis.call('EXPIREAT', KEYS[i], ARGV[3])
end
return 1
