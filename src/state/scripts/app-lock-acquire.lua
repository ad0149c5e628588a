-- Takes the lock for a job at the head of the order. A job missing from the
-- order (its entry was dropped, e.g. a finished job retried by hand) is
-- appended: it then waits behind every deploy that arrived before it.
--   KEYS[1]  lock (STRING)
--   KEYS[2]  order (LIST)
--   ARGV[1]  job id
--   ARGV[2]  lock value: '<job id> <token>'
--   ARGV[3]  lock time to live, ms
-- Returns {1, ''} taken (or renewed: same value), {0, head id} another job is ahead,
--         {-1, lock value} this job is the head but the lock is held by another run.
local head = redis.call('LINDEX', KEYS[2], 0)
if head ~= ARGV[1] then
  if not redis.call('LPOS', KEYS[2], ARGV[1]) then redis.call('RPUSH', KEYS[2], ARGV[1]) end
  if not head then head = ARGV[1] else return {0, head} end
end
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[2] then return {-1, holder} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return {1, ''}
