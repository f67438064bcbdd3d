"""``memory://``: the embedded default. One process, one lock, nothing survives a restart."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .._clock import Clock, SystemClock
from ._base import (
    AttemptOutcome,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    FailureState,
    LockoutPolicy,
    NewChallenge,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
)
from ._rules import (
    ChallengeState,
    LockoutState,
    apply_attempt,
    apply_charge,
    apply_resend,
    check_cost,
    check_new_challenge,
    expire_if_due,
    lockout_view,
    window_hit,
)

__all__ = ["MemoryStore"]


@dataclass(slots=True)
class _Entry:
    kind: str
    subject: str
    created_at: float
    max_attempts: int
    destination: str
    data: Mapping[str, str]
    retention: float
    state: ChallengeState


class MemoryStore(ChallengeStore):
    """A thread-safe in-process store. Limits hold within this process only."""

    def __init__(self, *, namespace: str = "vk", clock: Clock | None = None) -> None:
        self.namespace = namespace
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._challenges: dict[str, _Entry] = {}
        self._windows: dict[str, list[float]] = {}
        self._lockouts: dict[str, LockoutState] = {}
        self._ops = 0

    def now(self) -> float:
        return self._clock.now()

    def _record(self, cid: str, entry: _Entry) -> ChallengeRecord:
        s = entry.state
        return ChallengeRecord(
            id=cid,
            kind=entry.kind,
            subject=entry.subject,
            status=s.status,
            created_at=entry.created_at,
            expires_at=s.expires_at,
            attempts_left=s.attempts_left,
            max_attempts=entry.max_attempts,
            sends=s.sends,
            resend_at=s.resend_at,
            destination=entry.destination,
            delivery=s.delivery,
            delivery_reason=s.delivery_reason,
            secret=s.secret,
            data=dict(entry.data),
        )

    def _live(self, cid: str, now: float) -> _Entry | None:
        entry = self._challenges.get(cid)
        if entry is not None and now >= entry.state.expires_at + entry.retention:
            del self._challenges[cid]
            return None
        return entry

    def _sweep(self, now: float) -> None:
        # Amortized purge so a long-running process does not keep expired challenges forever.
        self._ops += 1
        if self._ops % 1024:
            return
        for cid in [c for c, e in self._challenges.items() if now >= e.state.expires_at + e.retention]:
            del self._challenges[cid]
        for key in [k for k, ev in self._windows.items() if not ev]:
            del self._windows[key]

    def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        check_new_challenge(new, retention)
        with self._lock:
            now = self.now()
            self._sweep(now)
            entry = _Entry(
                kind=new.kind,
                subject=new.subject,
                created_at=now,
                max_attempts=new.max_attempts,
                destination=new.destination,
                data=dict(new.data),
                retention=retention,
                state=ChallengeState(
                    status=ChallengeStatus.PENDING,
                    expires_at=now + new.ttl,
                    attempts_left=new.max_attempts,
                    sends=1,
                    resend_at=now + new.resend_after,
                    secret=new.secret,
                    delivery=new.delivery,
                ),
            )
            if new.id in self._challenges:
                raise ValueError("challenge id collision")  # 128 random bits: a bug, not bad luck
            self._challenges[new.id] = entry
            return self._record(new.id, entry)

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return None
            expire_if_due(entry.state, now)
            return self._record(challenge_id, entry)

    def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeRecord | None, FailureState | None]:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            lock = None
            if lockout_key is not None and lockout is not None:
                lock = self._lockouts.setdefault(lockout_key, LockoutState())
            outcome, failure = apply_attempt(entry.state if entry else None, now, candidates, lock, lockout)
            return outcome, (self._record(challenge_id, entry) if entry else None), failure

    def resend(
        self,
        challenge_id: str,
        secret: str,
        *,
        ttl: float,
        max_sends: int,
        cooldown: float,
        cooldown_factor: float,
        cooldown_max: float,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            outcome, wait = apply_resend(
                entry.state if entry else None,
                now,
                secret,
                ttl=ttl,
                max_sends=max_sends,
                cooldown=cooldown,
                cooldown_factor=cooldown_factor,
                cooldown_max=cooldown_max,
            )
            return outcome, (self._record(challenge_id, entry) if entry else None), wait

    def set_delivery(self, challenge_id: str, delivery: str, reason: str = "") -> ChallengeRecord | None:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return None
            entry.state.delivery, entry.state.delivery_reason = delivery, reason
            expire_if_due(entry.state, now)
            return self._record(challenge_id, entry)

    def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return False, None
            expire_if_due(entry.state, now)
            if entry.state.status is not ChallengeStatus.PENDING:
                return False, self._record(challenge_id, entry)
            entry.state.status = ChallengeStatus.CANCELED
            return True, self._record(challenge_id, entry)

    def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        check_cost(cost)
        with self._lock:
            events = self._windows.setdefault(key, [])
            return window_hit(events, self.now(), policy, cost)

    def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        with self._lock:
            return apply_charge(self._lockouts.setdefault(key, LockoutState()), self.now(), policy)

    def failure_state(self, key: str) -> FailureState:
        with self._lock:
            state = self._lockouts.get(key)
            if state is None:
                return FailureState(allowed=True, failures=0, retry_after=0.0)
            return lockout_view(state, self.now())

    def reset_failures(self, key: str) -> None:
        with self._lock:
            self._lockouts.pop(key, None)
