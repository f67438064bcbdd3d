"""The store's rules as pure functions of (state, time, arguments).

The memory backend applies them under a lock; the Lua scripts in ``lua/`` apply the
same rules inside Redis. The stateful property test holds both to these functions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .._errors import InvalidInput
from ._base import (
    AttemptOutcome,
    ChallengeStatus,
    FailureState,
    LiveSend,
    LockoutPolicy,
    NewChallenge,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
)

#: The delivery status a verifier records when its message could not be sent (the store keeps
#: delivery as a plain string; this one value changes a rule: no resend cooldown without mail).
DELIVERY_FAILED = "failed"

__all__ = [
    "DELIVERY_FAILED",
    "ChallengeState",
    "LockoutState",
    "ResendFacts",
    "apply_attempt",
    "apply_charge",
    "apply_failure",
    "apply_resend",
    "check_cost",
    "check_live_sends",
    "check_new_challenge",
    "expire_if_due",
    "lockout_view",
    "matching_send",
    "resend_delay",
    "resend_refusal",
    "window_hit",
    "window_refund",
]


@dataclass(slots=True)
class ChallengeState:
    """The mutable fields the rules touch; the memory store keeps one per challenge.

    ``live`` is oldest first; ``expires_at`` is the latest of its expiries.
    """

    status: ChallengeStatus
    expires_at: float
    attempts_left: int
    sends: int
    resend_at: float
    live: list[LiveSend]
    delivery: str
    delivery_reason: str = ""
    approved_send: int = 0


@dataclass(slots=True)
class LockoutState:
    failures: int = 0
    locked_until: float = 0.0
    hard: bool = False
    forget_at: float = 0.0


def check_new_challenge(new: NewChallenge, retention: float) -> None:
    """Refuse a challenge no backend could keep, before anything is stored."""
    if not (new.ttl > 0 and math.isfinite(new.ttl)):
        raise InvalidInput("challenge ttl must be a positive number of seconds", field="ttl")
    if not (retention >= 0 and math.isfinite(retention)):
        raise InvalidInput("retention must be a non-negative number of seconds", field="retention")
    if new.max_attempts < 1:
        raise InvalidInput("max_attempts must be at least 1", field="max_attempts")


def check_live_sends(live_sends: int) -> None:
    if isinstance(live_sends, bool) or not isinstance(live_sends, int) or live_sends < 1:
        raise InvalidInput("live_sends must be an integer >= 1", field="live_sends")


def check_cost(cost: int) -> None:
    if isinstance(cost, bool) or not isinstance(cost, int) or cost < 0:
        raise InvalidInput("a window hit's cost must be an integer >= 0", field="cost")


def expire_if_due(state: ChallengeState, now: float) -> None:
    if state.status is ChallengeStatus.PENDING and now >= state.expires_at:
        state.status = ChallengeStatus.EXPIRED


def lockout_view(state: LockoutState, now: float) -> FailureState:
    """Whether the key is locked at ``now``; forgotten failures read as zero."""
    if not state.hard and state.failures and now >= state.forget_at:
        return FailureState(allowed=True, failures=0, retry_after=0.0)
    if state.hard:
        return FailureState(allowed=False, failures=state.failures, retry_after=0.0, hard_locked=True)
    wait = state.locked_until - now
    if wait > 0:
        return FailureState(allowed=False, failures=state.failures, retry_after=wait)
    return FailureState(allowed=True, failures=state.failures, retry_after=0.0)


def apply_failure(state: LockoutState, now: float, policy: LockoutPolicy) -> None:
    """Count one failure (the caller has established the key is not locked)."""
    if state.failures and now >= state.forget_at:
        state.failures = 0
    state.failures += 1
    state.forget_at = now + policy.memory
    if state.failures >= policy.hard_cap:
        state.hard = True
    delay = policy.delay(state.failures)
    state.locked_until = now + delay if delay > 0 else 0.0


def apply_charge(state: LockoutState, now: float, policy: LockoutPolicy) -> FailureState:
    """Charge a failure up front unless locked; the caller resets on success."""
    view = lockout_view(state, now)
    if not view.allowed:
        return view
    apply_failure(state, now, policy)
    return FailureState(allowed=True, failures=state.failures, retry_after=0.0, hard_locked=state.hard)


def apply_attempt(
    state: ChallengeState | None,
    now: float,
    candidates: Sequence[str],
    lock: LockoutState | None = None,
    policy: LockoutPolicy | None = None,
) -> tuple[AttemptOutcome, FailureState | None]:
    """One check of a challenge; with ``lock``, also the per-subject lockout in the same step."""
    if state is None:
        return AttemptOutcome.MISSING, None
    expire_if_due(state, now)
    if state.status is ChallengeStatus.EXPIRED:
        return AttemptOutcome.EXPIRED, None
    if state.status is not ChallengeStatus.PENDING:
        return AttemptOutcome.CLOSED, None
    if lock is not None and policy is not None:
        view = lockout_view(lock, now)
        if not view.allowed:
            return AttemptOutcome.LOCKED, view
    state.attempts_left -= 1
    send = matching_send(state.live, now, candidates)
    matched = send is not None
    if send is not None:
        state.status = ChallengeStatus.APPROVED
        state.approved_send = send.send
        outcome = AttemptOutcome.APPROVED
    elif state.attempts_left <= 0:
        state.status = ChallengeStatus.DENIED
        outcome = AttemptOutcome.EXHAUSTED
    else:
        outcome = AttemptOutcome.WRONG
    failure: FailureState | None = None
    if lock is not None and policy is not None:
        if matched:
            lock.failures, lock.locked_until, lock.hard, lock.forget_at = 0, 0.0, False, 0.0
        else:
            apply_failure(lock, now, policy)
        failure = lockout_view(lock, now)
    return outcome, failure


def matching_send(live: Sequence[LiveSend], now: float, candidates: Sequence[str]) -> LiveSend | None:
    """The newest send, not past its own expiry, whose digest is among ``candidates``.

    One attempt is spent whichever send it names, so N live sends cost the same attempt budget
    as one; they do make each guess N times as likely to hit (docs/otp.md states the bound).
    """
    for send in reversed(live):
        if now < send.expires_at and send.secret in candidates:
            return send
    return None


def resend_delay(sends: int, cooldown: float, factor: float, cooldown_max: float) -> float:
    """The wait before the next send, after ``sends`` sends: cooldown * factor^(sends-1), capped."""
    return float(min(cooldown * factor ** max(sends - 1, 0), cooldown_max))


class ResendFacts(Protocol):
    """What the resend rule reads: a stored :class:`ChallengeState` or a :class:`ChallengeRecord`."""

    @property
    def status(self) -> ChallengeStatus: ...
    @property
    def expires_at(self) -> float: ...
    @property
    def sends(self) -> int: ...
    @property
    def resend_at(self) -> float: ...
    @property
    def delivery(self) -> str: ...


def resend_refusal(challenge: ResendFacts, now: float, max_sends: int) -> tuple[ResendOutcome, float] | None:
    """Why a resend may not happen at ``now`` (the outcome and seconds to wait), or None when it may.

    The one Python statement of the rule; ``lua/resend.lua`` is its twin, and a test holds the two
    together. A verifier may ask it of a record it read (to refuse before spending a send limit);
    the store applies it again atomically.
    """
    if challenge.status is ChallengeStatus.EXPIRED or (
        challenge.status is ChallengeStatus.PENDING and now >= challenge.expires_at
    ):
        return ResendOutcome.EXPIRED, 0.0
    if challenge.status is not ChallengeStatus.PENDING:
        return ResendOutcome.CLOSED, 0.0
    if challenge.sends >= max_sends:
        return ResendOutcome.MAX_SENDS, max(challenge.expires_at - now, 0.0)
    # No mail left: a person whose code never went out may ask again at once.
    if now < challenge.resend_at and challenge.delivery != DELIVERY_FAILED:
        return ResendOutcome.TOO_SOON, challenge.resend_at - now
    return None


def apply_resend(
    state: ChallengeState | None,
    now: float,
    secret: str,
    *,
    ttl: float,
    max_sends: int,
    cooldown: float,
    cooldown_factor: float,
    cooldown_max: float,
    live_sends: int = 1,
) -> tuple[ResendOutcome, float]:
    """Add a send: the newest ``live_sends - 1`` earlier sends still unexpired stay live beside it,
    each with its own expiry; older ones are dropped. ``lua/resend.lua`` is its twin."""
    if state is None:
        return ResendOutcome.MISSING, 0.0
    expire_if_due(state, now)
    refused = resend_refusal(state, now, max_sends)
    if refused is not None:
        return refused
    state.sends += 1
    kept = state.live[max(len(state.live) - (live_sends - 1), 0) :] if live_sends > 1 else []
    state.live = [s for s in kept if now < s.expires_at]
    state.live.append(LiveSend(state.sends, secret, now + ttl))
    state.expires_at = max(s.expires_at for s in state.live)
    state.resend_at = now + resend_delay(state.sends, cooldown, cooldown_factor, cooldown_max)
    state.delivery, state.delivery_reason = "queued", ""
    return ResendOutcome.OK, 0.0


def _slide(events: list[float], now: float, policy: WindowPolicy) -> None:
    horizon = now - policy.window
    while events and events[0] <= horizon:
        events.pop(0)


def window_hit(events: list[float], now: float, policy: WindowPolicy, cost: int) -> WindowResult:
    """Sliding-window log: drop events older than the window, then admit ``cost`` more if they fit."""
    _slide(events, now, policy)
    count = len(events)
    if count + cost > policy.limit:
        # The wait until enough old events leave the window for this hit to fit.
        must_leave = count + cost - policy.limit
        retry = events[must_leave - 1] + policy.window - now if must_leave <= count else math.inf
        return WindowResult(allowed=False, count=count, limit=policy.limit, retry_after=max(retry, 0.0))
    events.extend([now] * cost)
    return WindowResult(allowed=True, count=count + cost, limit=policy.limit, retry_after=0.0)


def window_refund(events: list[float], now: float, policy: WindowPolicy, cost: int) -> WindowResult:
    """Give back up to ``cost`` events: drop those older than the window, then the newest ones.

    A caller that charged a hit before some work (so concurrent callers can never pass the
    limit) refunds it when the work turns out not to count. The newest events go first: the
    refunded charge was taken moments ago, and an older event would leave the window sooner.
    """
    _slide(events, now, policy)
    del events[max(len(events) - cost, 0) :]
    return WindowResult(allowed=True, count=len(events), limit=policy.limit, retry_after=0.0)
