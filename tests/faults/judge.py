"""The guarantees every fault test checks, stated once."""

from __future__ import annotations

import redis
from workload import Tally

from verifykit.store import ChallengeStatus, ChallengeStore

__all__ = ["CLOSED", "TIMED_OUT", "assert_guarantees", "lost_writes"]

# What gave up on a store that did not answer: the socket timeout the test configured, or the
# connection being closed or refused (redis-py's BusyLoadingError, a server still loading its
# file, is a ConnectionError too). A call stopped by anything else, or never stopped, would show.
TIMED_OUT: tuple[type[BaseException], ...] = (redis.exceptions.TimeoutError,)
CLOSED: tuple[type[BaseException], ...] = (redis.exceptions.ConnectionError,)


def assert_guarantees(
    tally: Tally, ids: list[str], truth: ChallengeStore, *, stopped_by: tuple[type[object], ...]
) -> None:
    """Nothing approved that should not be, no challenge lost or approved twice, every failure a
    StoreUnavailable raised from one of ``stopped_by``; ``truth`` reads the store past any fault."""
    assert tally.foreign == [], f"errors other than StoreUnavailable escaped: {tally.foreign[:3]!r}"
    assert tally.wrong_approvals == [], "a wrong code was approved"
    assert all(n == 1 for n in tally.approvals.values()), "a challenge was approved twice"
    others = {cause.__name__: n for cause, n in tally.causes.items() if not issubclass(cause, stopped_by)}
    assert others == {}, f"failures not stopped by {[c.__name__ for c in stopped_by]}: {others}"
    for challenge_id in ids:
        record = truth.get(challenge_id)
        assert record is not None, "a challenge was lost"
        if tally.approvals[challenge_id]:
            assert record.status is ChallengeStatus.APPROVED, "an approval reported was not kept"


def lost_writes(tally: Tally, ids: list[str], truth: ChallengeStore) -> tuple[int, int]:
    """Spent attempts and approvals callers were told of that the store no longer holds."""
    from workload import MAX_ATTEMPTS

    attempts = approvals = 0
    for challenge_id in ids:
        record = truth.get(challenge_id)
        held = 0 if record is None else MAX_ATTEMPTS - record.attempts_left
        attempts += max(0, tally.spent[challenge_id] - held)
        if tally.approvals[challenge_id] and (
            record is None or record.status is not ChallengeStatus.APPROVED
        ):
            approvals += 1
    return attempts, approvals
