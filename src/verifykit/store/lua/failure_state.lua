-- ChallengeStore.failure_state = _rules.lockout_view. KEYS[1] lockout. Reads only.
return reply(lockout_view(load_lockout(KEYS[1]), clock()))
