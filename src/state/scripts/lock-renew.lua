-- Extends a lock's expiry, only if `token` holds it (a lost lock, expired
-- or taken by another, is not taken back).
--   KEYS[1]  the lock (STRING)
--   ARGV[1]  token: the value the holder set
--   ARGV[2]  time to live, ms
-- Returns 1 when extended, 0 when lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
