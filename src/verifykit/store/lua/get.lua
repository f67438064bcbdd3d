-- ChallengeStore.get. KEYS[1] challenge.
local key = KEYS[1]
local now = clock()
local c = load_challenge(key, now)
if not c then
  return reply({ 'missing' })
end
expire_if_due(key, c, now)
return reply({ 'ok', c })
