-- ChallengeStore.charge = _rules.apply_charge. KEYS[1] lockout; ARGV: the five policy values.
local key = KEYS[1]
local now = clock()
local lock = load_lockout(key)
local view = lockout_view(lock, now)
if view[1] == '0' then
  return reply(view)
end
apply_failure(key, lock, now, read_policy(1))
return reply({ '1', tostring(lock.failures), '0', lock.hard and '1' or '0' })
