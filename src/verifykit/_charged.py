"""Verdicts and audit events for verifiers that charge a failure before they compare (password,
TOTP, recovery codes): one place for what a lockout or a wrong answer tells the caller.

The failure count behind a wrong answer already includes it; these helpers turn that count
into the facts a caller needs (tries left, when to retry, other ways in).
"""

from __future__ import annotations

from collections.abc import Sequence

from ._audit import AuditEvent, AuditSink, emit
from ._verdict import Fallback, Reason, Verdict
from .store import FailureState, LockoutPolicy

__all__ = ["decision_event", "locked_verdict", "wrong_verdict"]


def decision_event(
    audit: AuditSink | None,
    verifier: str,
    action: str,
    subject: str,
    outcome: str,
    *,
    reason: Reason,
    client: str | None,
    **details: str,
) -> None:
    """One audit event for a decision; callers pass only counts and names, never codes."""
    emit(
        audit,
        AuditEvent(
            action=action,
            verifier=verifier,
            subject=subject,
            outcome=outcome,
            reason=reason.value,
            client=client,
            details=details,
        ),
    )


def locked_verdict(state: FailureState, fallbacks: Sequence[Fallback]) -> Verdict:
    """The subject is locked out: a hard lock waits for another way in, not for time."""
    return Verdict(
        False,
        Reason.LOCKED_OUT,
        attempts_left=0,
        retry_after=None if state.hard_locked else state.retry_after,
        fallbacks=tuple(fallbacks),
        details={"hard_locked": "true"} if state.hard_locked else {},
    )


def wrong_verdict(
    reason: Reason, state: FailureState, policy: LockoutPolicy, fallbacks: Sequence[Fallback]
) -> Verdict:
    """A refusal after ``state.failures`` consecutive failures (this one included)."""
    attempts_left = max(policy.threshold - state.failures, 0)
    wait = policy.delay(state.failures)
    troubled = state.hard_locked or wait > 0 or attempts_left <= 1
    return Verdict(
        False,
        reason,
        attempts_left=attempts_left,
        retry_after=None if state.hard_locked else (wait if wait > 0 else None),
        fallbacks=tuple(fallbacks) if troubled else (),
        details={"hard_locked": "true"} if state.hard_locked else {},
    )
