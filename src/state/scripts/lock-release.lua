-- Frees a lock, only if `token` holds it.
--   KEYS[1]  the lock (STRING)
--   ARGV[1]  token: the value the holder set
-- Returns 1 when freed, 0 when another holds it (or nobody).
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
