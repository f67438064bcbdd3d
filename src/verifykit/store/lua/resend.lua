-- ChallengeStore.resend = _rules.apply_resend (its refusals: _rules.resend_refusal). KEYS[1] challenge;
-- ARGV: secret, ttl, max_sends, cooldown, cooldown_factor, cooldown_max, live_sends.
local key = KEYS[1]
local now = clock()
local c = current_challenge(key, now)
if not c then
  return reply({ 'missing', {}, '0' })
end
if c.status == 'expired' then
  return reply({ 'expired', record(c, now), '0' })
end
if c.status ~= 'pending' then
  return reply({ 'closed', record(c, now), '0' })
end
local sends = tonumber(c.sends)
if sends >= tonumber(ARGV[3]) then
  return reply({ 'max_sends', record(c, now), num(math.max(tonumber(c.expires_at) - now, 0)) })
end
local resend_at = tonumber(c.resend_at)
-- No mail left: a person whose code never went out may ask again at once.
if now < resend_at and c.delivery ~= 'failed' then
  return reply({ 'too_soon', record(c, now), num(resend_at - now) })
end
sends = sends + 1
-- _rules.resend_delay
local cooldown, factor, cooldown_max = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local delay = math.min(cooldown * factor ^ math.max(sends - 1, 0), cooldown_max)
-- The newest live_sends - 1 earlier sends, those still unexpired, stay live beside the new one.
local keep = tonumber(ARGV[7]) - 1
local live = cjson.decode(c.live)
local kept = {}
if keep > 0 then
  for j = math.max(#live - keep + 1, 1), #live do
    if now < tonumber(live[j][2]) then
      kept[#kept + 1] = live[j]
    end
  end
end
local expires_at = now + tonumber(ARGV[2])
kept[#kept + 1] = { sends, num(expires_at), ARGV[1] }
for j = 1, #kept - 1 do
  expires_at = math.max(expires_at, tonumber(kept[j][2]))
end
c.live = cjson.encode(kept)
c.sends = tostring(sends)
c.expires_at = num(expires_at)
c.resend_at = num(now + delay)
c.delivery = 'queued'
c.delivery_reason = ''
redis.call('HSET', key, 'live', c.live, 'sends', c.sends, 'expires_at', c.expires_at,
  'resend_at', c.resend_at, 'delivery', c.delivery, 'delivery_reason', c.delivery_reason)
keep_challenge(key, c, now)
return reply({ 'ok', record(c, now), '0' })
