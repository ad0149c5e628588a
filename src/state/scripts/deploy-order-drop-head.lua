-- Drops a head that will never release (its job finished without saying so,
-- or vanished), with its lock if it still holds it. Only if it is still the head.
--   KEYS[1]  lock
--   KEYS[2]  order
--   ARGV[1]  the head's job id
-- Returns the new head, or false.
if redis.call('LINDEX', KEYS[2], 0) ~= ARGV[1] then return redis.call('LINDEX', KEYS[2], 0) end
redis.call('LPOP', KEYS[2])
local holder = redis.call('GET', KEYS[1])
if holder and string.sub(holder, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then redis.call('DEL', KEYS[1]) end
return redis.call('LINDEX', KEYS[2], 0)
