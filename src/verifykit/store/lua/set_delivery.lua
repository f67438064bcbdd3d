-- ChallengeStore.set_delivery. KEYS[1] challenge; ARGV: delivery, reason.
local key = KEYS[1]
local now = clock()
local c = current_challenge(key, now)
if not c then
  return reply({ 'missing' })
end
c.delivery = ARGV[1]
c.delivery_reason = ARGV[2]
redis.call('HSET', key, 'delivery', c.delivery, 'delivery_reason', c.delivery_reason)
return reply({ 'ok', record(c, now) })
