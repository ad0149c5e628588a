-- commit-traffic: one read of an edge log, counted once. Adds the read's
-- sums to their hours and moves the log's cursor past what was read, in
-- one step, and only if the cursor is still the one the read started
-- from: a run killed after the read and run again, or two runs at once,
-- can never count a line twice, and a run killed before this step has
-- counted nothing.
--
-- KEYS[1]            the log's cursor (STRING, JSON)
-- KEYS[2 .. n+1]     hourly traffic hashes (n = ARGV[3])
-- KEYS[n+2 ..]       traffic-envs sets, one per hash (same order)
-- ARGV[1]            the cursor the read started from, '' for none
-- ARGV[2]            the cursor after the read
-- ARGV[3]            n
-- ARGV[4 ..]         per hash: its expiry (unix seconds), its env, f, then f pairs of field and increment
-- Returns 1 when counted; 0 when the cursor had moved (nothing done: the caller reads again from the new one).
local stored = redis.call('GET', KEYS[1]) or ''
if stored ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
local n = tonumber(ARGV[3])
local a = 4
for k = 2, n + 1 do
  local expireAt, env, f = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  for _ = 1, f do
    redis.call('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    a = a + 2
  end
  redis.call('EXPIREAT', KEYS[k], expireAt)
  redis.call('SADD', KEYS[k + n], env)
end
return 1
