-- ChallengeStore.get. KEYS[1] challenge.
local key = KEYS[1]
local now = clock()
local c = current_challenge(key, now)
if not c then
  return reply({ 'missing' })
end
return reply({ 'ok', record(c, now) })
