-- ChallengeStore.cancel. KEYS[1] challenge.
local key = KEYS[1]
local now = clock()
local c = current_challenge(key, now)
if not c then
  return reply({ 'missing' })
end
if c.status ~= 'pending' then
  return reply({ 'unchanged', record(c, now) })
end
c.status = 'canceled'
redis.call('HSET', key, 'status', c.status)
return reply({ 'canceled', record(c, now) })
