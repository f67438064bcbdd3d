"""The guarantees every fault test checks, stated once."""

from __future__ import annotations

from workload import Tally

from verifykit.store import ChallengeStatus, ChallengeStore

__all__ = ["SCHEDULING_SLACK", "assert_guarantees", "lost_writes"]

# Thread and event-loop scheduling on a loaded test machine, on top of the configured timeouts.
SCHEDULING_SLACK = 1.0


def assert_guarantees(tally: Tally, ids: list[str], truth: ChallengeStore, *, call_bound: float) -> None:
    """Nothing approved that should not be, no challenge lost or approved twice, every failure a
    StoreUnavailable within ``call_bound`` seconds; ``truth`` reads the store past any fault."""
    assert tally.foreign == [], f"errors other than StoreUnavailable escaped: {tally.foreign[:3]!r}"
    assert tally.wrong_approvals == [], "a wrong code was approved"
    assert all(n == 1 for n in tally.approvals.values()), "a challenge was approved twice"
    assert tally.slowest_failure <= call_bound, (
        f"a failed call took {tally.slowest_failure:.2f} s, over {call_bound:.2f} s"
    )
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
