-- ChallengeStore.hit = _rules.window_hit over a sorted set of event times.
-- KEYS[1] window; ARGV: limit, window, cost, a random member prefix (members must be unique).
return reply(window_hit(KEYS[1], clock(), tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]))
