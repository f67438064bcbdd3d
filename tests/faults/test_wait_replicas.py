"""The ``wait_replicas`` store option: a write that spends an attempt or charges a limit counts
only once that many replicas hold it; short of that the store fails closed."""

from __future__ import annotations

import pytest
from workload import POLICY, open_challenges, right

from verifykit import ConfigurationError, StoreUnavailable
from verifykit.store import ChallengeStatus, open_store


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_check_no_replica_confirmed_is_not_approved(redis_url: str, make_store, flavour: str) -> None:
    truth = make_store(redis_url)
    (challenge_id,) = open_challenges(truth, 1)
    # The test server has no replica: WAIT 1 answers 0 once wait_timeout passes.
    store = make_store(
        redis_url, flavour=flavour, namespace=truth.namespace, wait_replicas=1, wait_timeout=0.05
    )

    with pytest.raises(StoreUnavailable, match="replica"):
        store.attempt(challenge_id, [right(challenge_id)])

    record = truth.get(challenge_id)
    assert record is not None and record.status is ChallengeStatus.APPROVED  # spent on the master, unused


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_lockout_charge_no_replica_confirmed_fails_closed(redis_url: str, make_store, flavour: str) -> None:
    store = make_store(redis_url, flavour=flavour, wait_replicas=1, wait_timeout=0.05)

    with pytest.raises(StoreUnavailable):
        store.charge("{tag}:fail:otp", POLICY)


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_reads_do_not_wait_for_replicas(redis_url: str, make_store, flavour: str) -> None:
    store = make_store(redis_url, flavour=flavour, wait_replicas=1, wait_timeout=0.05)

    assert store.get("missing.AAAAAAAAAAAAAAAAAAAAAAAA") is None


def test_wait_is_off_by_default_and_its_timeout_follows_the_socket_timeout(redis_url: str) -> None:
    store = open_store(f"{redis_url}?socket_timeout=0.4")
    assert store.wait == (0, 0.2)  # type: ignore[attr-defined]
    store.close()


@pytest.mark.parametrize(
    "query", ["wait_replicas=-1", "wait_replicas=x", "wait_replicas=1&wait_timeout=1.0", "wait_timeout=0"]
)
def test_bad_wait_options_are_refused(redis_url: str, query: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(f"{redis_url}?{query}")
