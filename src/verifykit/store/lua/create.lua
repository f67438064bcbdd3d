-- ChallengeStore.create. KEYS[1] challenge; ARGV: ttl, resend_after, retention, the first send's digest,
-- then field/value pairs.
local key = KEYS[1]
local now = clock()
if redis.call('EXISTS', key) == 1 then
  return reply({ 'collision' })
end
local c = {}
for i = 5, #ARGV, 2 do
  c[ARGV[i]] = ARGV[i + 1]
end
c.status = 'pending'
c.created_at = num(now)
c.expires_at = num(now + tonumber(ARGV[1]))
c.attempts_left = c.max_attempts
c.sends = '1'
c.resend_at = num(now + tonumber(ARGV[2]))
c.delivery_reason = ''
c.live = cjson.encode({ { 1, c.expires_at, ARGV[4] } })
c.approved_send = '0'
c.retention = ARGV[3]
redis.call('HSET', key, unpack(flat(c)))
keep_challenge(key, c, now)
return reply({ 'ok', c })
