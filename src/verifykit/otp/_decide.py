"""Pure decisions for email OTP: store outcomes in, verdicts and views out. No I/O here,
so an asyncio flavour can reuse every rule unchanged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .._verdict import Reason, Verdict, Way
from ..store import (
    DELIVERY_FAILED,
    AttemptOutcome,
    ChallengeBrief,
    ChallengeRecord,
    ChallengeStatus,
    FailureState,
)

__all__ = ["Challenge", "DeliveryStatus", "challenge_view", "verdict_for_attempt"]


class DeliveryStatus:
    """Delivery states a challenge records (plain strings in the store)."""

    QUEUED = "queued"
    SENT = "sent"
    FAILED = DELIVERY_FAILED


@dataclass(frozen=True, slots=True)
class Challenge:
    """A challenge as callers see it: no code, no digest, the destination masked.

    ``resend_after`` is seconds from ``now`` until a resend is allowed (0 when it is).
    ``expires_at`` is when the last live code stops working; ``live_sends`` how many sends' codes
    would still approve now (0 once the challenge is closed or expired).
    ``ways_in`` lists other ways in to offer, most useful first, when this one is in trouble.
    """

    id: str
    subject: str
    status: ChallengeStatus
    destination: str
    created_at: float
    expires_at: float
    attempts_left: int
    sends: int
    resend_at: float
    resend_after: float
    delivery: str
    delivery_reason: str
    ways_in: tuple[Way, ...]
    live_sends: int = 1


def _ladder(record: ChallengeRecord, now: float, others: Sequence[Way], max_sends: int) -> tuple[Way, ...]:
    """Other ways in, when this challenge cannot be finished as it is."""
    pending = record.status is ChallengeStatus.PENDING and now < record.expires_at
    troubled = record.delivery == DeliveryStatus.FAILED or not pending or record.attempts_left <= 1
    if not troubled:
        return ()
    ways: list[Way] = []
    if pending and record.sends < max_sends:
        ways.append(Way.EMAIL_CODE)
    ways.extend(w for w in others if w not in ways)
    return tuple(ways)


def _resend_after(record: ChallengeRecord, now: float) -> float:
    """Seconds until a resend is allowed: none once closed, and none when the mail failed."""
    if record.status is not ChallengeStatus.PENDING or record.delivery == DeliveryStatus.FAILED:
        return 0.0
    return max(record.resend_at - now, 0.0)


def challenge_view(record: ChallengeRecord, now: float, others: Sequence[Way], max_sends: int) -> Challenge:
    return Challenge(
        id=record.id,
        subject=record.subject,
        status=record.status,
        destination=record.destination,
        created_at=record.created_at,
        expires_at=record.expires_at,
        attempts_left=record.attempts_left,
        sends=record.sends,
        resend_at=record.resend_at,
        resend_after=_resend_after(record, now),
        delivery=record.delivery,
        delivery_reason=record.delivery_reason,
        ways_in=_ladder(record, now, others, max_sends),
        live_sends=len(record.live_at(now)),
    )


_CLOSED_REASON = {
    ChallengeStatus.APPROVED: Reason.REPLAYED,
    ChallengeStatus.DENIED: Reason.ATTEMPTS_EXHAUSTED,
    ChallengeStatus.CANCELED: Reason.CANCELED,
    ChallengeStatus.EXPIRED: Reason.EXPIRED,
}


def verdict_for_attempt(
    outcome: AttemptOutcome,
    record: ChallengeBrief,
    failure: FailureState | None,
    *,
    others: Sequence[Way],
) -> Verdict:
    """Translate one atomic attempt into what the caller tells the person.

    ``record`` is the state after the attempt; ``others`` the subject's other ways in.
    """
    cid = record.id
    if outcome is AttemptOutcome.APPROVED:
        # attempts_left is None on every approval: nothing is left to count down. "send" names the
        # message whose code was used (1 is the first): above the newest, that mail came late.
        return Verdict(True, Reason.APPROVED, challenge_id=cid, details={"send": str(record.approved_send)})
    if outcome is AttemptOutcome.LOCKED:
        hard = failure is not None and failure.hard_locked
        return Verdict(
            False,
            Reason.HARD_LOCKED if hard else Reason.LOCKED_OUT,
            attempts_left=record.attempts_left,
            retry_after=None if failure is None or hard else failure.retry_after,
            challenge_id=cid,
            ways_in=tuple(others),
        )
    if outcome is AttemptOutcome.WRONG:
        lock_wait = failure.retry_after if failure is not None and not failure.allowed else None
        ways_in = tuple(others) if record.attempts_left <= 1 or lock_wait else ()
        return Verdict(
            False,
            Reason.WRONG_CODE,
            attempts_left=record.attempts_left,
            retry_after=lock_wait,
            challenge_id=cid,
            ways_in=ways_in,
        )
    if outcome is AttemptOutcome.EXHAUSTED:
        return Verdict(
            False, Reason.ATTEMPTS_EXHAUSTED, attempts_left=0, challenge_id=cid, ways_in=tuple(others)
        )
    if outcome is AttemptOutcome.EXPIRED:
        return Verdict(False, Reason.EXPIRED, attempts_left=0, challenge_id=cid, ways_in=tuple(others))
    # CLOSED: a second answer to a finished challenge.
    reason = _CLOSED_REASON.get(record.status, Reason.DENIED)
    return Verdict(False, reason, attempts_left=0, challenge_id=cid, ways_in=tuple(others))
