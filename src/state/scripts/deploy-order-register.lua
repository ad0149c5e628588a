-- Registers a deploy job in its app+env's arrival order (once).
--   KEYS[1]  order (LIST)
--   ARGV[1]  job id
-- Returns the job's position (0 = head).
local pos = redis.call('LPOS', KEYS[1], ARGV[1])
if pos then return pos end
return redis.call('RPUSH', KEYS[1], ARGV[1]) - 1
