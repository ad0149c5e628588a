-- Frees the lock if this run holds it; a job that has finished for good
-- (completed, or failed without retry) also leaves the order.
--   KEYS[1]  lock
--   KEYS[2]  order
--   ARGV[1]  job id
--   ARGV[2]  lock value
--   ARGV[3]  '1' when the job has finished for good, '0' when it will be retried
-- Returns the id at the head of the order afterwards (the next deploy), or false.
if redis.call('GET', KEYS[1]) == ARGV[2] then redis.call('DEL', KEYS[1]) end
if ARGV[3] == '1' then redis.call('LREM', KEYS[2], 0, ARGV[1]) end
return redis.call('LINDEX', KEYS[2], 0)
