-- ChallengeStore.attempt = _rules.apply_attempt. KEYS[1] challenge, optional KEYS[2] lockout
-- (same hash tag); ARGV: the five lockout policy values when KEYS[2] is given, then candidates.
local key, lock_key = KEYS[1], KEYS[2]
local now = clock()
local c = current_challenge(key, now)
local first, policy, lock = 1, nil, nil
if lock_key then
  policy = read_policy(1)
  lock = load_lockout(lock_key)
  first = 6
end
if not c then
  return reply({ 'missing' })
end
if c.status == 'expired' then
  return reply({ 'expired', c })
end
if c.status ~= 'pending' then
  return reply({ 'closed', c })
end
if lock then
  local view = lockout_view(lock, now)
  if view[1] == '0' then
    return reply({ 'locked', c, view })
  end
end
local left = tonumber(c.attempts_left) - 1
c.attempts_left = tostring(left)
-- _rules.matching_send: the newest live send, not past its own expiry, that a candidate matches.
local matched = false
local live = cjson.decode(c.live)
for j = #live, 1, -1 do
  local send = live[j]
  if now < tonumber(send[2]) then
    for i = first, #ARGV do
      if ARGV[i] == send[3] then
        matched = true
        c.approved_send = tostring(send[1])
      end
    end
  end
  if matched then
    break
  end
end
local outcome = 'wrong'
if matched then
  c.status = 'approved'
  outcome = 'approved'
elseif left <= 0 then
  c.status = 'denied'
  outcome = 'exhausted'
end
redis.call('HSET', key, 'attempts_left', c.attempts_left, 'status', c.status, 'approved_send', c.approved_send)
if not lock then
  return reply({ outcome, c })
end
if matched then
  if lock.failures > 0 or lock.hard then
    redis.call('DEL', lock_key)
  end
  lock = { failures = 0, locked_until = 0, hard = false, forget_at = 0 }
else
  apply_failure(lock_key, lock, now, policy)
end
return reply({ outcome, c, lockout_view(lock, now) })
