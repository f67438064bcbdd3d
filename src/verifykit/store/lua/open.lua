-- ChallengeStore.open: the lockout read, each window hit in order, then create, in one step.
-- KEYS[1] challenge, then the lockout (read, never charged) when ARGV[5] is '1', then the windows.
-- ARGV: ttl, resend_after, retention, the first send's digest (as create), '1' with a lockout or '',
-- the number of windows W, a random member prefix, W pairs of limit and window, then the
-- challenge's field/value pairs.
local key = KEYS[1]
local now = clock()
if redis.call('EXISTS', key) == 1 then
  return reply({ 'collision' })
end
local first_window = 2
if ARGV[5] ~= '' then
  first_window = 3
  local view = lockout_view(load_lockout(KEYS[2]), now)
  if view[1] == '0' then
    return reply({ 'locked', view })
  end
end
local windows = tonumber(ARGV[6])
for i = 1, windows do
  local at = 6 + 2 * i
  local hit = window_hit(KEYS[first_window + i - 1], now, tonumber(ARGV[at]), tonumber(ARGV[at + 1]), 1,
    ARGV[7] .. ':' .. i)
  if hit[1] == '0' then
    return reply({ 'limited', i - 1, hit })
  end
end
return reply({ 'ok', record(create_challenge(key, now, 8 + 2 * windows), now) })
