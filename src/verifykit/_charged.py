"""Charged verifiers: every limit is charged *before* the work it guards, atomically on the
shared store, so no number of concurrent callers can get more work done than the limit allows.

- Per subject (password, TOTP, recovery codes, face): one failure is charged to the subject's
  lockout before comparing and reset on success; :func:`locked_verdict` and
  :func:`wrong_verdict` turn the count (which already includes this try) into the facts a
  caller needs (tries left, when to retry, other ways in).
- Per subject across methods: the same failure is also charged to the subject's one budget
  (:func:`~verifykit._subject.budget_key`), which any success resets; :func:`charge_subject_flow`
  charges both and :class:`SubjectCharge` answers from whichever is nearer its limit.
- Per client address (password, face, email OTP): :func:`charge_client_flow` takes one event from
  the client's sliding window before the work and answers whether it fit; a verifier whose
  limit counts only failures gives it back with :func:`refund_flow` when the try turns
  out not to be one. Peeking at the window and counting after the work instead lets every
  concurrent caller through the peek before any of them is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ._audit import AuditEvent
from ._errors import InvalidInput
from ._flow import Emit, Flow, store_op
from ._subject import budget_key, lockout_key
from ._verdict import Reason, Verdict, Way, store_name
from .store import FailureState, LockoutPolicy, WindowPolicy, WindowResult

__all__ = [
    "MAX_CLIENT_LENGTH",
    "ClientCharge",
    "SubjectCharge",
    "charge_client_flow",
    "charge_subject_flow",
    "client_key",
    "decision_record",
    "decision_step",
    "locked_verdict",
    "refund_flow",
    "reset_subject_flow",
    "validate_client",
    "wrong_verdict",
]

#: A client address is an IP address or a caller's label for one; store keys carry it, so its
#: length is bounded.
MAX_CLIENT_LENGTH = 256


def validate_client(client: object) -> str:
    """Return ``client`` if it is a string of 1-256 characters; raise :class:`InvalidInput`."""
    if not isinstance(client, str) or not 0 < len(client) <= MAX_CLIENT_LENGTH:
        raise InvalidInput(f"client must be a string of 1-{MAX_CLIENT_LENGTH} characters", field="client")
    return client


def client_key(way: Way, client: str) -> str:
    """The store key of one way's window for a client address."""
    return f"client:{store_name(way)}:{validate_client(client)}"


@dataclass(frozen=True, slots=True)
class ClientCharge:
    """One event taken from a client's window before the work it limits.

    ``refused`` when the window was full (nothing was taken: answer ``rate_limited`` with
    ``retry_after``). With no client or no limit there is nothing to charge, and it is never
    refused.
    """

    key: str = ""
    policy: WindowPolicy | None = None
    result: WindowResult | None = None

    @property
    def refused(self) -> bool:
        return self.result is not None and not self.result.allowed

    @property
    def retry_after(self) -> float | None:
        return self.result.retry_after if self.refused and self.result is not None else None

    def verdict(self, *, challenge_id: str | None = None) -> Verdict:
        """The ``rate_limited`` verdict for a refused charge."""
        return Verdict(False, Reason.RATE_LIMITED, retry_after=self.retry_after, challenge_id=challenge_id)


def outcome(verdict: Verdict) -> str:
    """A verdict's audit outcome: ``approved``; ``refused`` when nothing was compared (locked out,
    hard locked, rate limited); else ``denied``."""
    if verdict.approved:
        return "approved"
    if verdict.reason in (Reason.LOCKED_OUT, Reason.HARD_LOCKED, Reason.RATE_LIMITED):
        return "refused"
    return "denied"


def decision_record(
    verifier: Way,
    action: str,
    subject: str,
    outcome: str,
    *,
    reason: Reason | str,
    client: str | None,
    **details: str,
) -> AuditEvent:
    """One audit event for a decision; callers pass only counts and names, never codes.

    ``reason`` is a verdict's :class:`Reason`, or the name of the rule that refused."""
    return AuditEvent(
        action=action,
        verifier=verifier,
        subject=subject,
        outcome=outcome,
        reason=str(reason),
        client=client,
        details=details,
    )


def decision_step(
    verifier: Way,
    action: str,
    subject: str,
    outcome: str,
    *,
    reason: Reason | str,
    client: str | None,
    **details: str,
) -> Emit:
    """The audit step of a decision: ``yield decision_step(...)``."""
    return Emit(decision_record(verifier, action, subject, outcome, reason=reason, client=client, **details))


def charge_client_flow(verifier: Way, client: str | None, policy: WindowPolicy | None) -> Flow[ClientCharge]:
    """Charge one event to ``client``'s window for ``verifier`` before the work: one atomic hit."""
    if client is None or policy is None:
        return ClientCharge()
    key = client_key(verifier, client)
    result: WindowResult = yield store_op.hit(key, policy)
    return ClientCharge(key, policy, result)


def refund_flow(charge: ClientCharge) -> Flow[None]:
    """Give a taken event back: the try it was charged for does not count against the client."""
    if charge.result is not None and charge.result.allowed and charge.policy is not None:
        yield store_op.refund(charge.key, charge.policy)


def locked_verdict(state: FailureState, ways_in: Sequence[Way]) -> Verdict:
    """The subject is locked out: a hard lock waits for another way in, not for time."""
    if state.hard_locked:
        return Verdict(False, Reason.HARD_LOCKED, budget_left=0, ways_in=tuple(ways_in))
    return Verdict(
        False, Reason.LOCKED_OUT, budget_left=0, retry_after=state.retry_after, ways_in=tuple(ways_in)
    )


def wrong_verdict(
    reason: Reason, state: FailureState, policy: LockoutPolicy, ways_in: Sequence[Way]
) -> Verdict:
    """A refusal after ``state.failures`` consecutive failures (this one included).

    The reason stays the specific one (a wrong password); ``budget_left`` and ``retry_after`` say
    what the failure cost, and a hard lock reached by this failure shows as ``hard_locked`` in
    the details, since the reason names what was wrong."""
    budget_left = max(policy.threshold - state.failures, 0)
    wait = policy.delay(state.failures)
    troubled = state.hard_locked or wait > 0 or budget_left <= 1
    return Verdict(
        False,
        reason,
        budget_left=budget_left,
        retry_after=None if state.hard_locked else (wait if wait > 0 else None),
        ways_in=tuple(ways_in) if troubled else (),
        details={"hard_locked": "true"} if state.hard_locked else {},
    )


@dataclass(frozen=True, slots=True)
class SubjectCharge:
    """One failure charged, before a comparison, to the method's own count and the subject's budget.

    ``budget`` is ``None`` when the method's own lock refused first (then nothing was charged).
    When the budget refuses, the method's count keeps its charge: it is never more than the
    method's own policy lets through, and it spares a round trip to read the budget first.
    """

    method: FailureState
    budget: FailureState | None
    policy: LockoutPolicy

    @property
    def allowed(self) -> bool:
        return self.method.allowed and self.budget is not None and self.budget.allowed

    @property
    def state(self) -> FailureState:
        """The stricter of the two counts: a hard lock first, then the one with more failures."""
        if self.budget is None or not self.method.allowed:
            return self.method
        if not self.budget.allowed:
            return self.budget
        if self.method.hard_locked or self.budget.hard_locked:
            return self.method if self.method.hard_locked else self.budget
        return self.budget if self.budget.failures > self.method.failures else self.method

    def locked(self, ways_in: Sequence[Way]) -> Verdict:
        """The refusal when either count is locked (nothing was compared)."""
        return locked_verdict(self.state, ways_in)

    def wrong(self, reason: Reason, ways_in: Sequence[Way]) -> Verdict:
        """The refusal after a wrong answer, from whichever count is nearer its limit."""
        return wrong_verdict(reason, self.state, self.policy, ways_in)


def charge_subject_flow(verifier: Way, tag: str, policy: LockoutPolicy) -> Flow[SubjectCharge]:
    """Charge one failure to ``verifier``'s own count for the subject, then to the subject's
    budget; each charge is atomic, so both caps hold exactly however many tries race."""
    method: FailureState = yield store_op.charge(lockout_key(verifier, tag), policy)
    if not method.allowed:
        return SubjectCharge(method, None, policy)
    budget: FailureState = yield store_op.charge(budget_key(tag), policy)
    return SubjectCharge(method, budget, policy)


def reset_subject_flow(verifier: Way, tag: str) -> Flow[None]:
    """A success: forget the method's own failures and the subject's budget."""
    yield store_op.reset_failures(lockout_key(verifier, tag))
    yield store_op.reset_failures(budget_key(tag))
