"""Late mail at the store: a challenge keeps the digests of its last few sends, each with its own
expiry, and one atomic attempt checks them all against one shared attempt budget.

Every backend and flavour. On memory:// a fake clock moves; on Redis the server's clock runs and the
tests poll it with a deadline.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from store_support import RIGHT, WRONG, Backend, challenge

from verifykit import InvalidInput
from verifykit.store import AttemptOutcome, ChallengeStatus, NewChallenge, ResendOutcome

FIRST, SECOND, THIRD = RIGHT, "k1:second", "k1:third"
RESEND = {"max_sends": 5, "cooldown": 0.0, "cooldown_factor": 1.0, "cooldown_max": 0.0}


def _new(**fields: Any) -> NewChallenge:
    return challenge(resend_after=0.0, **fields)


def _until(backend: Backend, when: float) -> None:
    """Let the store's own clock reach ``when``: moved on memory, polled with a deadline on Redis."""
    if backend.name == "memory":
        backend.advance(max(when - backend.store.now(), 0.0))
        return
    deadline = time.monotonic() + 15
    while backend.store.now() < when:
        if time.monotonic() > deadline:
            pytest.fail("the store's clock did not reach the time the test waits for")
        time.sleep(0.02)


def test_a_resend_keeps_the_earlier_send_live_with_its_own_expiry(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(ttl=600), retention=60)
    _, record, _ = store.resend(created.id, SECOND, ttl=600, live_sends=2, **RESEND)
    assert record is not None
    assert [(s.send, s.secret) for s in record.live] == [(1, FIRST), (2, SECOND)]
    assert record.live[0].expires_at == pytest.approx(created.expires_at)
    assert record.expires_at == record.live[1].expires_at


def test_an_earlier_sends_digest_approves_and_is_named(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(), retention=60)
    store.resend(created.id, SECOND, ttl=600, live_sends=2, **RESEND)
    outcome, record, _ = store.attempt(created.id, [FIRST])
    assert outcome is AttemptOutcome.APPROVED
    assert record is not None and record.approved_send == 1


def test_after_an_approval_no_live_digest_approves_again(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(), retention=60)
    store.resend(created.id, SECOND, ttl=600, live_sends=2, **RESEND)
    store.attempt(created.id, [SECOND])
    outcome, record, _ = store.attempt(created.id, [FIRST])
    assert outcome is AttemptOutcome.CLOSED
    assert record is not None and record.approved_send == 2


def test_live_digests_share_one_attempt_budget(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(max_attempts=2), retention=60)
    store.resend(created.id, SECOND, ttl=600, live_sends=2, **RESEND)
    assert store.attempt(created.id, [WRONG])[0] is AttemptOutcome.WRONG
    assert store.attempt(created.id, [WRONG])[0] is AttemptOutcome.EXHAUSTED
    assert store.attempt(created.id, [FIRST])[0] is AttemptOutcome.CLOSED


def test_a_resend_drops_the_oldest_send_beyond_live_sends(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(), retention=60)
    store.resend(created.id, SECOND, ttl=600, live_sends=2, **RESEND)
    _, record, _ = store.resend(created.id, THIRD, ttl=600, live_sends=2, **RESEND)
    assert record is not None and [s.send for s in record.live] == [2, 3]
    assert store.attempt(created.id, [FIRST])[0] is AttemptOutcome.WRONG


def test_one_live_send_keeps_only_the_newest_digest(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(), retention=60)
    _, record, _ = store.resend(created.id, SECOND, ttl=600, **RESEND)  # live_sends defaults to 1
    assert record is not None and [s.send for s in record.live] == [2]
    assert store.attempt(created.id, [FIRST])[0] is AttemptOutcome.WRONG


def test_a_digest_past_its_own_expiry_fails_while_a_newer_one_is_live(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(ttl=2.0), retention=60)
    _until(backend, created.created_at + 1.0)
    _, record, _ = store.resend(created.id, SECOND, ttl=2.0, live_sends=2, **RESEND)
    assert record is not None and record.live[1].expires_at >= created.expires_at + 1.0
    _until(backend, created.expires_at)
    outcome, after, _ = store.attempt(created.id, [FIRST])
    assert outcome is AttemptOutcome.WRONG
    assert after is not None and after.status is ChallengeStatus.PENDING


def test_a_resend_drops_sends_already_past_their_expiry(backend: Backend) -> None:
    store = backend.store
    created = store.create(_new(ttl=2.0), retention=60)
    _until(backend, created.created_at + 1.0)
    _, record, _ = store.resend(created.id, SECOND, ttl=2.0, live_sends=3, **RESEND)
    assert record is not None
    _until(backend, created.expires_at)
    outcome, record, _ = store.resend(created.id, THIRD, ttl=2.0, live_sends=3, **RESEND)
    assert outcome is ResendOutcome.OK
    assert record is not None and [s.send for s in record.live] == [2, 3]


@pytest.mark.parametrize("live_sends", [0, -1, True])
def test_live_sends_below_one_is_invalid_input(backend: Backend, live_sends: int) -> None:
    created = backend.store.create(_new(), retention=60)
    with pytest.raises(InvalidInput):
        backend.store.resend(created.id, SECOND, ttl=600, live_sends=live_sends, **RESEND)
