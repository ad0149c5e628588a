-- Sets a release's status, only if the release exists (a HSET alone would
-- create a record without commit nor id).
--   KEYS[1]  the release's hash
--   ARGV[1]  status
--   ARGV[2]  updatedAt (ISO 8601)
--   ARGV[3]  message ('' removes the field)
-- Returns 1 when set, 0 when there is no such release.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updatedAt', ARGV[2])
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], 'message') else redis.call('HSET', KEYS[1], 'message', ARGV[3]) end
return 1
