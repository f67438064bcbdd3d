-- ChallengeStore.attempt = _rules.apply_attempt. KEYS[1] challenge, optional KEYS[2] lockout
-- (same hash tag); ARGV: the lockout policy when KEYS[2] is given (read_policy), then candidates.
-- It reads only the fields a check needs and answers with a ChallengeBrief, not the whole record:
-- { 'outcome status attempts_left approved_send [allowed failures retry_after hard]', kind,
--   subject, destination, created_at }, or { 'missing' }.
local key, lock_key = KEYS[1], KEYS[2]
local now = clock()
local f = redis.call('HMGET', key, 'status', 'expires_at', 'retention', 'attempts_left', 'live',
  'approved_send', 'kind', 'subject', 'destination', 'created_at')
local status, expires_at = f[1], tonumber(f[2])
if not status then
  return { 'missing' }
end
-- load_challenge: past expiry + retention the challenge is gone.
if now >= expires_at + tonumber(f[3]) then
  redis.call('DEL', key)
  return { 'missing' }
end
local left, approved_send = f[4], f[6] or '0'
local function brief(outcome, view)
  local head = outcome .. ' ' .. status .. ' ' .. left .. ' ' .. approved_send
  if view then
    head = head .. ' ' .. table.concat(view, ' ')
  end
  return { head, f[7] or '', f[8] or '', f[9] or '', f[10] or '' }
end
-- expire_if_due
if status == 'pending' and now >= expires_at then
  status = 'expired'
  redis.call('HSET', key, 'status', status)
end
if status == 'expired' then
  return brief('expired')
end
if status ~= 'pending' then
  return brief('closed')
end
local first, policy, lock = 1, nil, nil
if lock_key then
  policy = read_policy(1)
  lock = load_lockout(lock_key)
  first = 2
  local view = lockout_view(lock, now)
  if view[1] == '0' then
    return brief('locked', view)
  end
end
left = tostring(tonumber(left) - 1)
-- _rules.matching_send: the newest live send, not past its own expiry, that a candidate matches.
local matched = false
local live = cjson.decode(f[5])
for j = #live, 1, -1 do
  local send = live[j]
  if now < tonumber(send[2]) then
    for i = first, #ARGV do
      if ARGV[i] == send[3] then
        matched = true
        approved_send = tostring(send[1])
      end
    end
  end
  if matched then
    break
  end
end
local outcome = 'wrong'
if matched then
  status = 'approved'
  outcome = 'approved'
elseif tonumber(left) <= 0 then
  status = 'denied'
  outcome = 'exhausted'
end
redis.call('HSET', key, 'attempts_left', left, 'status', status, 'approved_send', approved_send)
if not lock then
  return brief(outcome)
end
if matched then
  if lock.failures > 0 or lock.hard then
    redis.call('DEL', lock_key)
  end
  lock = { failures = 0, locked_until = 0, hard = false, forget_at = 0 }
else
  apply_failure(lock_key, lock, now, policy)
end
return brief(outcome, lockout_view(lock, now))
