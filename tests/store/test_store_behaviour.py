"""What every store backend does: memory://, one Redis server and a Redis Cluster alike."""

from __future__ import annotations

import math

import pytest
from store_support import RIGHT, WRONG, Backend, challenge, lock_key, new_id, new_tag

from verifykit import InvalidInput
from verifykit.store import (
    AttemptOutcome,
    ChallengeStatus,
    FailureState,
    LockoutPolicy,
    ResendOutcome,
    WindowPolicy,
)

SHORT = 0.3  # a real TTL on Redis: long enough to act within, short enough to wait out
EPSILON = 1e-6  # float rounding of times near 1.7e9 seconds
RESEND = {"max_sends": 5, "cooldown": 30.0, "cooldown_factor": 2.0, "cooldown_max": 300.0}


# -- challenges ---------------------------------------------------------------------------------


def test_create_stamps_times_from_the_store_clock(backend: Backend) -> None:
    before = backend.store.now()
    record = backend.store.create(challenge(ttl=600, resend_after=30), retention=60)
    after = backend.store.now()
    assert before <= record.created_at <= after
    assert record.expires_at == pytest.approx(record.created_at + 600)
    assert record.resend_at == pytest.approx(record.created_at + 30)


def test_create_returns_a_pending_record_with_full_attempts_and_one_send(backend: Backend) -> None:
    record = backend.store.create(challenge(max_attempts=5), retention=60)
    assert record.status is ChallengeStatus.PENDING
    assert (record.attempts_left, record.max_attempts, record.sends) == (5, 5, 1)
    assert (record.delivery, record.delivery_reason) == ("queued", "")


def test_get_returns_what_create_stored(backend: Backend) -> None:
    new = challenge(data={"to": "sealed-blob", "lang": "id"}, destination="b***@example.org")
    created = backend.store.create(new, retention=60)
    assert backend.store.get(new.id) == created
    assert created.data == {"to": "sealed-blob", "lang": "id"}
    assert (created.kind, created.subject, created.secret) == ("email_otp", "subject-1", RIGHT)


def test_get_of_an_unknown_id_is_none(backend: Backend) -> None:
    assert backend.store.get(new_id()) is None


def test_ids_not_shaped_tag_dot_random_work_too(backend: Backend) -> None:
    new = challenge("plain-id{with}braces")
    backend.store.create(new, retention=60)
    outcome, record, _ = backend.store.attempt(new.id, [RIGHT])
    assert outcome is AttemptOutcome.APPROVED
    assert record is not None and record.id == new.id


def test_create_refuses_an_id_already_in_use(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    with pytest.raises(ValueError, match="collision"):
        backend.store.create(new, retention=60)


@pytest.mark.parametrize(
    ("ttl", "retention", "max_attempts"), [(0, 60, 5), (-1, 60, 5), (600, -1, 5), (600, 60, 0)]
)
def test_create_rejects_impossible_settings_and_stores_nothing(
    backend: Backend, ttl: float, retention: float, max_attempts: int
) -> None:
    new = challenge(ttl=ttl, max_attempts=max_attempts)
    with pytest.raises(InvalidInput):
        backend.store.create(new, retention=retention)
    assert backend.store.get(new.id) is None


def test_the_right_digest_approves(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    outcome, record, failure = backend.store.attempt(new.id, [RIGHT])
    assert outcome is AttemptOutcome.APPROVED
    assert record is not None and record.status is ChallengeStatus.APPROVED
    assert record.attempts_left == 4
    assert failure is None


def test_any_candidate_digest_may_match(backend: Backend) -> None:
    # Verifiers pass one digest per keyring key, so codes survive a key rotation.
    new = challenge(secret="k0:old-key-digest")
    backend.store.create(new, retention=60)
    outcome, _, _ = backend.store.attempt(new.id, ["k1:new-key-digest", "k0:old-key-digest"])
    assert outcome is AttemptOutcome.APPROVED


def test_an_approved_challenge_stays_closed(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    backend.store.attempt(new.id, [RIGHT])
    outcome, record, _ = backend.store.attempt(new.id, [RIGHT])
    assert outcome is AttemptOutcome.CLOSED
    assert record is not None and record.attempts_left == 4


def test_a_wrong_digest_spends_one_attempt(backend: Backend) -> None:
    new = challenge(max_attempts=3)
    backend.store.create(new, retention=60)
    outcome, record, _ = backend.store.attempt(new.id, [WRONG])
    assert outcome is AttemptOutcome.WRONG
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.PENDING, 2)


def test_the_last_wrong_attempt_denies_and_the_challenge_stays_denied(backend: Backend) -> None:
    new = challenge(max_attempts=2)
    backend.store.create(new, retention=60)
    assert backend.store.attempt(new.id, [WRONG])[0] is AttemptOutcome.WRONG
    outcome, record, _ = backend.store.attempt(new.id, [WRONG])
    assert outcome is AttemptOutcome.EXHAUSTED
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.DENIED, 0)
    outcome, record, _ = backend.store.attempt(new.id, [RIGHT])
    assert outcome is AttemptOutcome.CLOSED
    assert record is not None and record.attempts_left == 0


def test_an_attempt_on_an_unknown_id_is_missing(backend: Backend) -> None:
    assert backend.store.attempt(new_id(), [RIGHT]) == (AttemptOutcome.MISSING, None, None)


def test_an_attempt_after_expiry_is_expired_and_spends_nothing(backend: Backend) -> None:
    new = challenge(ttl=SHORT)
    backend.store.create(new, retention=60)
    backend.advance(SHORT)
    outcome, record, _ = backend.store.attempt(new.id, [RIGHT])
    assert outcome is AttemptOutcome.EXPIRED
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.EXPIRED, 5)


def test_a_pending_challenge_past_expiry_reads_as_expired(backend: Backend) -> None:
    new = challenge(ttl=SHORT)
    backend.store.create(new, retention=60)
    backend.advance(SHORT)
    record = backend.store.get(new.id)
    assert record is not None and record.status is ChallengeStatus.EXPIRED


def test_a_closed_challenge_keeps_its_status_past_expiry(backend: Backend) -> None:
    new = challenge(ttl=SHORT)
    backend.store.create(new, retention=60)
    backend.store.attempt(new.id, [RIGHT])
    backend.advance(SHORT)
    record = backend.store.get(new.id)
    assert record is not None and record.status is ChallengeStatus.APPROVED


def test_a_challenge_is_purged_once_retention_has_passed(backend: Backend) -> None:
    new = challenge(ttl=SHORT)
    backend.store.create(new, retention=3 * SHORT)
    backend.advance(SHORT)
    assert backend.store.get(new.id) is not None  # expired, still readable for status
    backend.advance(3 * SHORT)
    assert backend.store.get(new.id) is None
    assert backend.store.attempt(new.id, [RIGHT])[0] is AttemptOutcome.MISSING


def test_resend_before_the_cooldown_is_refused_with_the_wait(backend: Backend) -> None:
    new = challenge(resend_after=30)
    created = backend.store.create(new, retention=60)
    outcome, record, wait = backend.store.resend(new.id, "k1:second", ttl=600, **RESEND)
    assert outcome is ResendOutcome.TOO_SOON
    assert 29 < wait <= 30
    assert record == created


def test_resend_after_a_failed_delivery_is_not_held_by_the_cooldown(backend: Backend) -> None:
    """No mail left: a person whose code never went out may ask again at once."""
    new = challenge(resend_after=30)
    backend.store.create(new, retention=60)
    backend.store.set_delivery(new.id, "failed", "mail server down")
    outcome, record, wait = backend.store.resend(new.id, "k1:second", ttl=600, **RESEND)
    assert (outcome, wait) == (ResendOutcome.OK, 0.0)
    assert record is not None and record.sends == 2


def test_resend_replaces_the_secret_and_restarts_the_expiry(backend: Backend) -> None:
    new = challenge(ttl=600, resend_after=SHORT)
    backend.store.create(new, retention=60)
    backend.advance(SHORT)
    outcome, record, wait = backend.store.resend(new.id, "k1:second", ttl=600, **RESEND)
    assert (outcome, wait) == (ResendOutcome.OK, 0.0)
    assert record is not None and record.sends == 2 and record.secret == "k1:second"
    assert record.expires_at == pytest.approx(backend.store.now() + 600, abs=1)
    assert backend.store.attempt(new.id, [RIGHT])[0] is AttemptOutcome.WRONG  # the old code stops working
    assert backend.store.attempt(new.id, ["k1:second"])[0] is AttemptOutcome.APPROVED


def test_resend_keeps_the_attempt_budget_and_requeues_delivery(backend: Backend) -> None:
    new = challenge(resend_after=SHORT)
    backend.store.create(new, retention=60)
    backend.store.attempt(new.id, [WRONG])
    backend.store.set_delivery(new.id, "failed", "mail server down")
    backend.advance(SHORT)
    _, record, _ = backend.store.resend(new.id, "k1:second", ttl=600, **RESEND)
    assert record is not None and record.attempts_left == 4
    assert (record.delivery, record.delivery_reason) == ("queued", "")


def test_the_resend_cooldown_grows_with_each_send(backend: Backend) -> None:
    new = challenge(resend_after=0.01)
    backend.store.create(new, retention=60)
    backend.advance(0.01)
    policy = {"max_sends": 5, "cooldown": 10.0, "cooldown_factor": 3.0, "cooldown_max": 300.0}
    _, record, _ = backend.store.resend(new.id, "k1:2", ttl=600, **policy)
    assert record is not None
    now = backend.store.now()
    assert record.resend_at - now == pytest.approx(30.0, abs=1)  # 10 * 3^(2-1)


def test_resend_stops_at_max_sends_and_says_until_when(backend: Backend) -> None:
    new = challenge(resend_after=0.01, ttl=600)
    backend.store.create(new, retention=60)
    backend.advance(0.01)
    policy = {"max_sends": 2, "cooldown": 0.01, "cooldown_factor": 1.0, "cooldown_max": 1.0}
    assert backend.store.resend(new.id, "k1:2", ttl=600, **policy)[0] is ResendOutcome.OK
    backend.advance(0.01)
    outcome, record, wait = backend.store.resend(new.id, "k1:3", ttl=600, **policy)
    assert outcome is ResendOutcome.MAX_SENDS
    assert record is not None and record.sends == 2 and record.secret == "k1:2"
    assert 599 < wait <= 600  # until this challenge expires


def test_resend_of_a_closed_an_expired_or_an_unknown_challenge_is_refused(backend: Backend) -> None:
    closed, expired = challenge(resend_after=0), challenge(ttl=SHORT, resend_after=0)
    backend.store.create(closed, retention=60)
    backend.store.create(expired, retention=60)
    backend.store.cancel(closed.id)
    backend.advance(SHORT)
    assert backend.store.resend(closed.id, "x", ttl=600, **RESEND)[0] is ResendOutcome.CLOSED
    assert backend.store.resend(expired.id, "x", ttl=600, **RESEND)[0] is ResendOutcome.EXPIRED
    assert backend.store.resend(new_id(), "x", ttl=600, **RESEND) == (ResendOutcome.MISSING, None, 0.0)


def test_cancel_closes_a_pending_challenge_once(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    changed, record = backend.store.cancel(new.id)
    assert changed and record is not None and record.status is ChallengeStatus.CANCELED
    changed, record = backend.store.cancel(new.id)
    assert not changed and record is not None and record.status is ChallengeStatus.CANCELED
    assert backend.store.attempt(new.id, [RIGHT])[0] is AttemptOutcome.CLOSED


def test_cancel_of_an_unknown_challenge_changes_nothing(backend: Backend) -> None:
    assert backend.store.cancel(new_id()) == (False, None)


def test_set_delivery_records_the_status_and_reason(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    record = backend.store.set_delivery(new.id, "failed", "421 try again later")
    assert record is not None and (record.delivery, record.delivery_reason) == (
        "failed",
        "421 try again later",
    )
    assert backend.store.get(new.id) == record


def test_set_delivery_of_an_unknown_challenge_is_none(backend: Backend) -> None:
    assert backend.store.set_delivery(new_id(), "sent") is None


# -- sliding windows ----------------------------------------------------------------------------


def test_hits_are_allowed_up_to_the_limit(backend: Backend) -> None:
    policy = WindowPolicy(limit=3, window=60)
    counts = [backend.store.hit("dest:a", policy).count for _ in range(3)]
    assert counts == [1, 2, 3]


def test_a_hit_past_the_limit_is_refused_with_retry_after(backend: Backend) -> None:
    policy = WindowPolicy(limit=2, window=60)
    backend.store.hit("dest:a", policy)
    backend.store.hit("dest:a", policy)
    result = backend.store.hit("dest:a", policy)
    assert (result.allowed, result.count, result.limit) == (False, 2, 2)
    assert 59 < result.retry_after <= 60


def test_retry_after_is_when_enough_old_events_leave_the_window(backend: Backend) -> None:
    policy = WindowPolicy(limit=2, window=4 * SHORT)
    backend.store.hit("dest:a", policy)
    backend.advance(SHORT)
    backend.store.hit("dest:a", policy)
    refused = backend.store.hit("dest:a", policy)
    # The first event leaves first, 3 * SHORT from now at most; the second would take 4 * SHORT.
    assert 0 < refused.retry_after <= 3 * SHORT + EPSILON
    backend.advance(refused.retry_after)
    assert backend.store.hit("dest:a", policy).allowed


def test_a_refused_hit_counts_nothing(backend: Backend) -> None:
    policy = WindowPolicy(limit=1, window=60)
    backend.store.hit("dest:a", policy)
    for _ in range(3):
        assert not backend.store.hit("dest:a", policy).allowed
    assert backend.store.hit("dest:a", policy, cost=0).count == 1


def test_cost_zero_peeks_without_counting(backend: Backend) -> None:
    policy = WindowPolicy(limit=2, window=60)
    backend.store.hit("dest:a", policy)
    peek = backend.store.hit("dest:a", policy, cost=0)
    assert (peek.allowed, peek.count) == (True, 1)
    assert backend.store.hit("dest:a", policy).count == 2


def test_a_cost_above_the_limit_never_fits(backend: Backend) -> None:
    result = backend.store.hit("dest:a", WindowPolicy(limit=2, window=60), cost=3)
    assert not result.allowed and result.count == 0 and math.isinf(result.retry_after)


def test_a_cost_of_several_events_counts_them_all(backend: Backend) -> None:
    policy = WindowPolicy(limit=5, window=60)
    assert backend.store.hit("dest:a", policy, cost=3).count == 3
    refused = backend.store.hit("dest:a", policy, cost=3)
    assert not refused.allowed and refused.count == 3


def test_events_leave_the_window_as_it_slides(backend: Backend) -> None:
    policy = WindowPolicy(limit=1, window=SHORT)
    backend.store.hit("dest:a", policy)
    backend.advance(SHORT)
    result = backend.store.hit("dest:a", policy)
    assert (result.allowed, result.count) == (True, 1)


def test_windows_on_different_keys_are_independent(backend: Backend) -> None:
    policy = WindowPolicy(limit=1, window=60)
    assert backend.store.hit("dest:a", policy).allowed
    assert backend.store.hit("dest:b", policy).allowed


@pytest.mark.parametrize("cost", [-1, True, 1.5])
def test_a_bad_cost_is_rejected_and_counts_nothing(backend: Backend, cost: object) -> None:
    policy = WindowPolicy(limit=5, window=60)
    with pytest.raises(InvalidInput):
        backend.store.hit("dest:a", policy, cost=cost)  # type: ignore[arg-type]
    assert backend.store.hit("dest:a", policy, cost=0).count == 0


def test_a_refund_gives_a_charge_back_to_the_window(backend: Backend) -> None:
    policy = WindowPolicy(limit=2, window=60)
    backend.store.hit("client:a", policy)
    backend.store.hit("client:a", policy)
    refunded = backend.store.refund("client:a", policy)
    assert (refunded.allowed, refunded.count) == (True, 1)
    assert backend.store.hit("client:a", policy).allowed


def test_a_refund_gives_back_the_newest_event(backend: Backend) -> None:
    policy = WindowPolicy(limit=1, window=4 * SHORT)
    backend.store.hit("client:a", policy)
    backend.advance(SHORT)
    backend.store.hit("client:a", WindowPolicy(limit=2, window=4 * SHORT))
    backend.store.refund("client:a", policy)
    # The older event is the one kept: it leaves the window 3 * SHORT from now at most.
    refused = backend.store.hit("client:a", policy)
    assert not refused.allowed and 0 < refused.retry_after <= 3 * SHORT + EPSILON


def test_a_refund_never_goes_below_zero_nor_creates_a_window(backend: Backend) -> None:
    policy = WindowPolicy(limit=2, window=60)
    assert backend.store.refund("client:none", policy, cost=3).count == 0
    backend.store.hit("client:a", policy)
    assert backend.store.refund("client:a", policy, cost=3).count == 0
    assert [backend.store.hit("client:a", policy).allowed for _ in range(3)] == [True, True, False]


@pytest.mark.parametrize("cost", [-1, True, 1.5])
def test_a_bad_refund_cost_is_rejected_and_changes_nothing(backend: Backend, cost: object) -> None:
    policy = WindowPolicy(limit=5, window=60)
    backend.store.hit("client:a", policy)
    with pytest.raises(InvalidInput):
        backend.store.refund("client:a", policy, cost=cost)  # type: ignore[arg-type]
    assert backend.store.hit("client:a", policy, cost=0).count == 1


# -- lockouts -----------------------------------------------------------------------------------

LOCKOUT = LockoutPolicy(threshold=3, lockout=30, lockout_max=100, hard_cap=100, memory=3600)


def test_charges_below_the_threshold_are_let_through(backend: Backend) -> None:
    states = [backend.store.charge("sub", LOCKOUT) for _ in range(2)]
    assert states == [FailureState(True, 1, 0.0), FailureState(True, 2, 0.0)]


def test_the_threshold_failure_locks_the_key_with_retry_after(backend: Backend) -> None:
    for _ in range(3):
        assert backend.store.charge("sub", LOCKOUT).allowed
    state = backend.store.failure_state("sub")
    assert not state.allowed and state.failures == 3 and 29 < state.retry_after <= 30


def test_a_refused_charge_is_not_counted(backend: Backend) -> None:
    for _ in range(3):
        backend.store.charge("sub", LOCKOUT)
    refused = backend.store.charge("sub", LOCKOUT)
    assert not refused.allowed and refused.failures == 3
    assert backend.store.failure_state("sub").failures == 3


def _lockout_after_one_charge(backend: Backend, key: str, policy: LockoutPolicy) -> tuple[float, float]:
    """Bounds on how long one allowed charge locked ``key``, read on the store's own clock.

    On Redis time runs while the test reads it; the bounds widen by exactly that much.
    """
    before = backend.store.now()
    assert backend.store.charge(key, policy).allowed
    wait = backend.store.failure_state(key).retry_after
    after = backend.store.now()
    return wait, wait + (after - before)


def test_the_lockout_doubles_with_each_failure_up_to_its_maximum(backend: Backend) -> None:
    policy = LockoutPolicy(threshold=1, lockout=SHORT, lockout_max=2 * SHORT, memory=3600)
    durations = []
    for _ in range(3):
        low, high = _lockout_after_one_charge(backend, "sub", policy)
        durations.append((low, high))
        backend.advance(high)
    for (low, high), expected in zip(durations, [SHORT, 2 * SHORT, 2 * SHORT], strict=True):
        assert low - EPSILON <= expected <= high + EPSILON  # the third is capped at lockout_max


def test_the_hard_cap_locks_until_reset_and_is_never_exceeded(backend: Backend) -> None:
    policy = LockoutPolicy(threshold=100, lockout=1, lockout_max=1, hard_cap=100, memory=3 * SHORT)
    states = [backend.store.charge("sub", policy) for _ in range(100)]
    assert all(s.allowed for s in states)
    assert states[-1].hard_locked and not states[-2].hard_locked
    for _ in range(3):
        refused = backend.store.charge("sub", policy)
        assert (refused.allowed, refused.failures, refused.hard_locked) == (False, 100, True)
    backend.advance(3 * SHORT)  # a hard lock outlives the failure memory
    assert backend.store.failure_state("sub") == FailureState(False, 100, 0.0, hard_locked=True)


def test_reset_failures_unlocks_even_a_hard_lock(backend: Backend) -> None:
    policy = LockoutPolicy(threshold=1, hard_cap=1)
    backend.store.charge("sub", policy)
    assert backend.store.failure_state("sub").hard_locked
    backend.store.reset_failures("sub")
    assert backend.store.failure_state("sub") == FailureState(True, 0, 0.0)
    assert backend.store.charge("sub", policy).allowed


def test_failures_are_forgotten_after_the_memory(backend: Backend) -> None:
    policy = LockoutPolicy(threshold=3, memory=SHORT)
    backend.store.charge("sub", policy)
    backend.store.charge("sub", policy)
    backend.advance(SHORT)
    assert backend.store.failure_state("sub") == FailureState(True, 0, 0.0)
    assert backend.store.charge("sub", policy).failures == 1


def test_failure_state_only_reads(backend: Backend) -> None:
    backend.store.charge("sub", LOCKOUT)
    for _ in range(3):
        assert backend.store.failure_state("sub") == FailureState(True, 1, 0.0)
    assert backend.store.failure_state("someone-else") == FailureState(True, 0, 0.0)


# -- a check and the subject's lockout in one step ---------------------------------------------


def test_attempt_with_a_lockout_key_charges_a_wrong_answer(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    outcome, _, failure = backend.store.attempt(
        new.id, [WRONG], lockout_key=lock_key(new.id), lockout=LOCKOUT
    )
    assert outcome is AttemptOutcome.WRONG
    assert failure == FailureState(True, 1, 0.0)
    assert backend.store.failure_state(lock_key(new.id)).failures == 1


def test_attempt_with_a_lockout_key_clears_it_on_approval(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    backend.store.charge(lock_key(new.id), LOCKOUT)
    backend.store.charge(lock_key(new.id), LOCKOUT)
    outcome, _, failure = backend.store.attempt(
        new.id, [RIGHT], lockout_key=lock_key(new.id), lockout=LOCKOUT
    )
    assert outcome is AttemptOutcome.APPROVED
    assert failure == FailureState(True, 0, 0.0)
    assert backend.store.failure_state(lock_key(new.id)) == FailureState(True, 0, 0.0)


def test_a_locked_subject_is_refused_without_spending_an_attempt(backend: Backend) -> None:
    tag = new_tag()
    first, second = challenge(new_id(tag)), challenge(new_id(tag))
    for new in (first, second):
        backend.store.create(new, retention=60)
    for _ in range(3):
        backend.store.attempt(first.id, [WRONG], lockout_key=lock_key(first.id), lockout=LOCKOUT)
    # The subject is locked across challenges: the second one is refused too, and keeps its attempts.
    outcome, record, failure = backend.store.attempt(
        second.id, [RIGHT], lockout_key=lock_key(second.id), lockout=LOCKOUT
    )
    assert outcome is AttemptOutcome.LOCKED
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.PENDING, 5)
    assert failure is not None and not failure.allowed and failure.failures == 3
    assert 29 < failure.retry_after <= 30


def test_an_attempt_on_a_closed_challenge_charges_nothing(backend: Backend) -> None:
    new = challenge()
    backend.store.create(new, retention=60)
    backend.store.cancel(new.id)
    outcome, _, failure = backend.store.attempt(
        new.id, [WRONG], lockout_key=lock_key(new.id), lockout=LOCKOUT
    )
    assert (outcome, failure) == (AttemptOutcome.CLOSED, None)
    assert backend.store.failure_state(lock_key(new.id)).failures == 0


# -- open: the lockout, the send limits and create in one step ------------------------------------

ONE = WindowPolicy(limit=1, window=600)


def test_open_creates_the_challenge_when_no_limit_refuses(backend: Backend) -> None:
    new = challenge()
    opened = backend.store.open(
        new, retention=60, lockout_key=lock_key(new.id), limits=[(f"dest:{new_id()}", ONE)]
    )
    assert opened.record is not None and opened.record.status is ChallengeStatus.PENDING
    assert backend.store.get(new.id) == opened.record


def test_open_refuses_while_the_lockout_is_locked_and_counts_nothing(backend: Backend) -> None:
    new = challenge()
    for _ in range(LOCKOUT.threshold):
        backend.store.charge(lock_key(new.id), LOCKOUT)
    window = f"dest:{new_id()}"
    opened = backend.store.open(new, retention=60, lockout_key=lock_key(new.id), limits=[(window, ONE)])
    assert opened.record is None and opened.locked is not None and not opened.locked.allowed
    assert backend.store.get(new.id) is None
    assert backend.store.hit(window, ONE, cost=0).count == 0


def test_open_stops_at_the_first_full_window_having_counted_those_before_it(backend: Backend) -> None:
    new = challenge()
    first, full, after = f"client:{new_id()}", f"dest:{new_id()}", f"other:{new_id()}"
    backend.store.hit(full, ONE)
    opened = backend.store.open(new, retention=60, limits=[(first, ONE), (full, ONE), (after, ONE)])
    assert (opened.record, opened.limited) == (None, 1)
    assert opened.window is not None and not opened.window.allowed and opened.window.limit == 1
    assert [backend.store.hit(key, ONE, cost=0).count for key in (first, full, after)] == [1, 1, 0]
    assert backend.store.get(new.id) is None


def test_the_records_a_store_answers_with_say_when_they_were_read(backend: Backend) -> None:
    before = backend.store.now()
    record = backend.store.create(challenge(), retention=60)
    assert before <= record.as_of <= backend.store.now()
