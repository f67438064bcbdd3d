-- Shared by every store script: prepended to each one when it is loaded.
-- It mirrors verifykit/store/_rules.py step for step; keep the two in step (the stateful
-- property test holds them to the same model). Every value kept in Redis or returned to
-- Python is a string, floats as %.17g (an exact round trip). Each script answers with one
-- JSON document: one bulk string is far cheaper for the client to read than a nested reply.

-- The one clock: Redis TIME, seconds + microseconds, as Python's RedisStore.now() computes it.
local function clock()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function num(x)
  return string.format('%.17g', x)
end

-- Seconds to a key TTL in milliseconds (never 0, which would delete the key at once).
local function ms(seconds)
  return math.max(1, math.ceil(seconds * 1000))
end

local function reply(t)
  return cjson.encode(t)
end

local function flat(t)
  local out = {}
  for k, v in pairs(t) do
    out[#out + 1] = k
    out[#out + 1] = v
  end
  return out
end

-- A challenge hash as a table, or nil when unknown or past expiry + retention (then purged).
local function load_challenge(key, now)
  local fields = redis.call('HGETALL', key)
  if #fields == 0 then
    return nil
  end
  local c = {}
  for i = 1, #fields, 2 do
    c[fields[i]] = fields[i + 1]
  end
  if now >= tonumber(c.expires_at) + tonumber(c.retention) then
    redis.call('DEL', key)
    return nil
  end
  return c
end

-- _rules.expire_if_due
local function expire_if_due(key, c, now)
  if c.status == 'pending' and now >= tonumber(c.expires_at) then
    c.status = 'expired'
    redis.call('HSET', key, 'status', 'expired')
  end
end

-- The challenge as the rules see it at `now` (a pending one past expiry is expired), or nil.
local function current_challenge(key, now)
  local c = load_challenge(key, now)
  if c then
    expire_if_due(key, c, now)
  end
  return c
end

-- The key lives (expires_at - now) + retention seconds: status stays readable after expiry.
local function keep_challenge(key, c, now)
  redis.call('PEXPIRE', key, ms((tonumber(c.expires_at) - now) + tonumber(c.retention)))
end

-- Store a new pending challenge (ChallengeStore.create): ARGV[1..4] are its ttl, resend_after,
-- retention and first send's digest; its own field/value pairs start at ARGV[first].
local function create_challenge(key, now, first)
  local c = {}
  for i = first, #ARGV, 2 do
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
  return c
end

-- LockoutPolicy from ARGV[i]: its five values in one argument, separated by spaces
-- (_redis.policy_args): one argument costs less to send and to read than five.
local function read_policy(i)
  local threshold, lockout, lockout_max, hard_cap, memory = string.match(ARGV[i],
    '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  return {
    threshold = tonumber(threshold),
    lockout = tonumber(lockout),
    lockout_max = tonumber(lockout_max),
    hard_cap = tonumber(hard_cap),
    memory = tonumber(memory),
  }
end

-- A record for the reply: the challenge's fields and the clock it was read at (ChallengeRecord.as_of).
local function record(c, now)
  c.as_of = num(now)
  return c
end

-- _rules.window_hit over a sorted set of event times, as {allowed, count, retry_after}.
-- Members must be unique: `prefix` is random per call.
local function window_hit(key, now, limit, window, cost, prefix)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', num(now - window))
  local count = redis.call('ZCARD', key)
  if count + cost > limit then
    -- The wait until enough old events leave the window for this hit to fit.
    local must_leave = count + cost - limit
    local retry = 'inf'
    if must_leave <= count then
      local event = redis.call('ZRANGE', key, must_leave - 1, must_leave - 1, 'WITHSCORES')
      retry = num(math.max(tonumber(event[2]) + window - now, 0))
    end
    return { '0', tostring(count), retry }
  end
  if cost > 0 then
    local members = {}
    for i = 1, cost do
      members[#members + 1] = num(now)
      members[#members + 1] = prefix .. ':' .. i
    end
    redis.call('ZADD', key, unpack(members))
    redis.call('PEXPIRE', key, ms(window))
  end
  return { '1', tostring(count + cost), '0' }
end

local function load_lockout(key)
  local fields = redis.call('HGETALL', key)
  local l = { failures = 0, locked_until = 0, hard = false, forget_at = 0 }
  for i = 1, #fields, 2 do
    local name, value = fields[i], fields[i + 1]
    if name == 'hard' then
      l.hard = value == '1'
    else
      l[name] = tonumber(value)
    end
  end
  return l
end

-- _rules.lockout_view, as {allowed, failures, retry_after, hard_locked}.
local function lockout_view(l, now)
  if not l.hard and l.failures > 0 and now >= l.forget_at then
    return { '1', '0', '0', '0' }
  end
  if l.hard then
    return { '0', tostring(l.failures), '0', '1' }
  end
  local wait = l.locked_until - now
  if wait > 0 then
    return { '0', tostring(l.failures), num(wait), '0' }
  end
  return { '1', tostring(l.failures), '0', '0' }
end

-- LockoutPolicy.delay
local function lockout_delay(failures, p)
  if failures < p.threshold then
    return 0
  end
  local exponent = math.min(failures - p.threshold, 32)
  return math.min(p.lockout * 2 ^ exponent, p.lockout_max)
end

-- _rules.apply_failure, then the key's TTL: forgotten after `memory`, kept while hard-locked.
local function apply_failure(key, l, now, p)
  if l.failures > 0 and now >= l.forget_at then
    l.failures = 0
  end
  l.failures = l.failures + 1
  l.forget_at = now + p.memory
  if l.failures >= p.hard_cap then
    l.hard = true
  end
  local delay = lockout_delay(l.failures, p)
  if delay > 0 then
    l.locked_until = now + delay
  else
    l.locked_until = 0
  end
  redis.call('HSET', key, 'failures', tostring(l.failures), 'locked_until', num(l.locked_until),
    'hard', l.hard and '1' or '0', 'forget_at', num(l.forget_at))
  if l.hard then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ms(p.memory))
  end
end
