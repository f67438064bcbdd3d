-- ChallengeStore.hit = _rules.window_hit over a sorted set of event times.
-- KEYS[1] window; ARGV: limit, window, cost, a random member prefix (members must be unique).
local key = KEYS[1]
local now = clock()
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now - window))
local count = redis.call('ZCARD', key)
if count + cost > limit then
  -- The wait until enough old events leave the window for this hit to fit.
  local must_leave = count + cost - limit
  local retry = 'inf'
  if must_leave <= count then
    local event = redis.call('ZRANGE', key, must_leave - 1, must_leave - 1, 'WITHSCORES')
    retry = num(math.max(tonumber(event[2]) + window - now, 0))
  end
  return reply({ '0', tostring(count), retry })
end
if cost > 0 then
  local members = {}
  for i = 1, cost do
    members[#members + 1] = num(now)
    members[#members + 1] = ARGV[4] .. ':' .. i
  end
  redis.call('ZADD', key, unpack(members))
  redis.call('PEXPIRE', key, ms(window))
end
return reply({ '1', tostring(count + cost), '0' })
