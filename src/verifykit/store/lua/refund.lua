-- ChallengeStore.refund = _rules.window_refund. KEYS[1] window; ARGV: limit, window, cost.
-- Reads and removes only: a key with no events is never created, and one that keeps events
-- keeps the TTL its last hit gave it (one window after its newest event).
local key = KEYS[1]
local now = clock()
local window, cost = tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now - window))
if cost > 0 then
  redis.call('ZPOPMAX', key, cost)
end
return reply({ '1', tostring(redis.call('ZCARD', key)), '0' })
