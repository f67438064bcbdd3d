-- ChallengeStore.create. KEYS[1] challenge; ARGV: ttl, resend_after, retention, the first send's digest,
-- then field/value pairs.
local key = KEYS[1]
local now = clock()
if redis.call('EXISTS', key) == 1 then
  return reply({ 'collision' })
end
return reply({ 'ok', record(create_challenge(key, now, 5), now) })
