-- ChallengeStore.create. KEYS[1] challenge; ARGV: ttl, resend_after, retention, then field/value pairs.
local key = KEYS[1]
local now = clock()
if redis.call('EXISTS', key) == 1 then
  return reply({ 'collision' })
end
local c = {}
for i = 4, #ARGV, 2 do
  c[ARGV[i]] = ARGV[i + 1]
end
c.status = 'pending'
c.created_at = num(now)
c.expires_at = num(now + tonumber(ARGV[1]))
c.attempts_left = c.max_attempts
c.sends = '1'
c.resend_at = num(now + tonumber(ARGV[2]))
c.delivery_reason = ''
c.retention = ARGV[3]
redis.call('HSET', key, unpack(flat(c)))
keep_challenge(key, c, now)
return reply({ 'ok', c })
