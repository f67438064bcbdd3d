"""``memory://``: the embedded default. One process, one lock, nothing survives a restart.

Memory stays bounded by live state, never by traffic:

- No operation creates an entry for state it does not keep: a check of an unknown (or closed,
  or expired) challenge leaves no lockout behind, and a zero-cost or refused hit on an empty
  window leaves no window behind.
- Every entry has a horizon past which it reads exactly as if it were absent, and is swept
  then: a challenge at ``expires_at + retention``; a window one window after its newest
  event; a lockout ``memory`` seconds after its last failure (``forget_at``), or at once when
  it holds no failures. A **hard lock** has no horizon: it is kept until
  :meth:`~MemoryStore.reset_failures`, because forgetting it by time would give an attacker
  another ``hard_cap`` guesses and break the NIST SP 800-63B cap of 100 consecutive
  failures. Each takes ``hard_cap`` charged failures to make, so they grow at a small
  fraction of the failure rate that the other limits already bound.
- The sweep is amortised: each entry has at most one item in a heap ordered by horizon, and
  every operation retires at most :data:`SWEEP_BATCH` due items, so no request pays for the
  whole store. An item whose entry's horizon moved on (a newer event, a resend) is pushed
  again at the new horizon instead of being duplicated on every write.
- Rate-limit windows are also bounded in number, because their keys are the caller's (a client
  address, a destination, a single-use marker) and each is kept for up to its window: at most
  ``max_windows`` (default :data:`DEFAULT_MAX_WINDOWS`). A hit that would keep a new window
  while that many are held first retires whatever is due; if none is, it raises
  :class:`~verifykit.StoreUnavailable` and keeps nothing, so nothing is approved. A window is
  never evicted to make room: forgetting its events would give its key a fresh limit (or let
  a spent single-use marker be spent again), so a flood of new keys can only be refused, never
  turned into more attempts on a key already held. Existing windows, reads and refunds go on
  as before.
"""

from __future__ import annotations

import heapq
import itertools
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

from .._clock import Clock, SystemClock
from .._errors import ConfigurationError, StoreUnavailable
from ._base import (
    AttemptOutcome,
    ChallengeBrief,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    FailureState,
    LiveSend,
    LockoutPolicy,
    NewChallenge,
    Opened,
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
    check_live_sends,
    check_new_challenge,
    expire_if_due,
    lockout_view,
    window_hit,
    window_refund,
)

__all__ = ["DEFAULT_MAX_WINDOWS", "SWEEP_BATCH", "MemoryStore"]

#: Due heap items each operation retires at most. Each operation adds at most one item, so
#: any batch above one keeps up; a few more catch up quickly after a burst.
SWEEP_BATCH = 8
#: Rate-limit windows a memory store holds at once unless told otherwise: about 40 MiB at about
#: 400 bytes for a window of one event (a window holds one float per event in it besides).
DEFAULT_MAX_WINDOWS = 100_000


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

    def horizon(self) -> float:
        return self.state.expires_at + self.retention


@dataclass(slots=True)
class _Window:
    events: list[float]
    # The longest window any policy on this key has used: events are kept for that long.
    span: float

    def horizon(self) -> float:
        return self.events[-1] + self.span if self.events else -math.inf


@dataclass(slots=True)
class _Lockout:
    state: LockoutState
    # False only for a hard lock whose heap item was retired: it waits for a reset, not a time.
    scheduled: bool = True

    def horizon(self) -> float:
        s = self.state
        if s.hard:
            return math.inf
        return s.forget_at if s.failures else -math.inf


class _Table(IntEnum):
    CHALLENGES = 0
    WINDOWS = 1
    LOCKOUTS = 2


_Item = tuple[float, int, _Table, str, _Entry | _Window | _Lockout]


class MemoryStore(ChallengeStore):
    """A thread-safe in-process store. Limits hold within this process only.

    ``max_windows`` bounds how many rate-limit windows are held at once (default
    :data:`DEFAULT_MAX_WINDOWS`); past it a hit that would keep a new window raises
    :class:`~verifykit.StoreUnavailable` instead of forgetting another key's window.
    """

    def __init__(
        self, *, namespace: str = "vk", clock: Clock | None = None, max_windows: int = DEFAULT_MAX_WINDOWS
    ) -> None:
        if isinstance(max_windows, bool) or not isinstance(max_windows, int) or max_windows < 1:
            raise ConfigurationError("max_windows must be an integer >= 1")
        self.namespace = namespace
        self.max_windows = max_windows
        self._clock = clock or SystemClock()
        self._lock = threading.Lock()
        self._challenges: dict[str, _Entry] = {}
        self._windows: dict[str, _Window] = {}
        self._lockouts: dict[str, _Lockout] = {}
        self._due: list[_Item] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._clock.now()

    def sizes(self) -> dict[str, int]:
        """How many challenges, windows and lockouts are held, and pending expiries: for monitoring."""
        with self._lock:
            return {
                "challenges": len(self._challenges),
                "windows": len(self._windows),
                "lockouts": len(self._lockouts),
                "expiries": len(self._due),
            }

    # -- expiry --------------------------------------------------------------------------------

    def _schedule(self, table: _Table, key: str, entry: _Entry | _Window | _Lockout) -> None:
        heapq.heappush(self._due, (entry.horizon(), next(self._seq), table, key, entry))

    def _table(self, table: _Table) -> dict[str, _Entry] | dict[str, _Window] | dict[str, _Lockout]:
        if table is _Table.CHALLENGES:
            return self._challenges
        if table is _Table.WINDOWS:
            return self._windows
        return self._lockouts

    def _sweep(self, now: float) -> None:
        """Retire at most SWEEP_BATCH due heap items (called under the lock by every operation)."""
        for _ in range(SWEEP_BATCH):
            if not self._retire(now):
                return

    def _retire(self, now: float) -> bool:
        """Retire the first heap item if it is due; False when none is."""
        due = self._due
        if not due or due[0][0] > now:
            return False
        _, _, table, key, entry = heapq.heappop(due)
        entries = self._table(table)
        if entries.get(key) is not entry:
            return True  # removed (or replaced) since: its own item, if any, is elsewhere
        horizon = entry.horizon()
        if horizon <= now:
            del entries[key]
        elif isinstance(entry, _Lockout) and math.isinf(horizon):
            entry.scheduled = False  # a hard lock: kept, off the heap, until reset
        else:
            heapq.heappush(due, (horizon, next(self._seq), table, key, entry))
        return True

    def _room_for_a_window(self, now: float) -> None:
        """Make room for one more window by retiring what is due (each heap item is retired once
        per push, so this stays amortised), or refuse: a held window is never evicted."""
        while len(self._windows) >= self.max_windows:
            if not self._retire(now):
                wait = max(self._due[0][0] - now, 0.0) if self._due else 0.0
                raise StoreUnavailable(
                    f"the memory store holds its limit of {self.max_windows} rate-limit windows "
                    f"(max_windows); nothing new is kept, and nothing allowed, for at least "
                    f"{math.ceil(wait)} s"
                )

    # -- challenges ------------------------------------------------------------------------------

    def _record(self, cid: str, entry: _Entry, now: float) -> ChallengeRecord:
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
            live=tuple(s.live),
            approved_send=s.approved_send,
            data=dict(entry.data),
            as_of=now,
        )

    def _live(self, cid: str, now: float) -> _Entry | None:
        self._sweep(now)
        entry = self._challenges.get(cid)
        if entry is not None and now >= entry.horizon():
            del self._challenges[cid]  # its heap item is due too, and is dropped when reached
            return None
        return entry

    def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        check_new_challenge(new, retention)
        with self._lock:
            now = self.now()
            self._sweep(now)
            return self._create(new, retention, now)

    def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        check_new_challenge(new, retention)
        with self._lock:
            now = self.now()
            self._sweep(now)
            if new.id in self._challenges:
                raise ValueError("challenge id collision")  # before anything is counted
            held = self._lockouts.get(lockout_key) if lockout_key is not None else None
            if held is not None:
                view = lockout_view(held.state, now)
                if not view.allowed:
                    return Opened(None, locked=view)
            for index, (key, policy) in enumerate(limits):
                result = self._hit(key, policy, 1, now)
                if not result.allowed:
                    return Opened(None, limited=index, window=result)
            return Opened(self._create(new, retention, now))

    def _create(self, new: NewChallenge, retention: float, now: float) -> ChallengeRecord:
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
                live=[LiveSend(1, new.secret, now + new.ttl)],
                delivery=new.delivery,
            ),
        )
        if new.id in self._challenges:
            raise ValueError("challenge id collision")  # 128 random bits: a bug, not bad luck
        self._challenges[new.id] = entry
        self._schedule(_Table.CHALLENGES, new.id, entry)
        return self._record(new.id, entry, now)

    def get(self, challenge_id: str) -> ChallengeRecord | None:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return None
            expire_if_due(entry.state, now)
            return self._record(challenge_id, entry, now)

    def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                # Nothing to check, so nothing to charge: a guessed id leaves no state behind.
                return AttemptOutcome.MISSING, None, None
            held = self._lockouts.get(lockout_key) if lockout_key is not None and lockout else None
            lock = held.state if held is not None else None
            if lock is None and lockout_key is not None and lockout is not None:
                lock = LockoutState()  # kept only if this attempt charges it, below
            outcome, failure = apply_attempt(entry.state, now, candidates, lock, lockout)
            if held is None and lockout_key is not None and lock is not None and lock.failures:
                self._add_lockout(lockout_key, lock)
            s = entry.state
            brief = ChallengeBrief(
                challenge_id,
                entry.kind,
                entry.subject,
                entry.destination,
                s.status,
                s.attempts_left,
                s.approved_send,
                entry.created_at,
            )
            return outcome, brief, failure

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
        live_sends: int = 1,
    ) -> tuple[ResendOutcome, ChallengeRecord | None, float]:
        check_live_sends(live_sends)
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
                live_sends=live_sends,
            )
            return outcome, (self._record(challenge_id, entry, now) if entry else None), wait

    def set_delivery(self, challenge_id: str, delivery: str, reason: str = "") -> ChallengeRecord | None:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return None
            entry.state.delivery, entry.state.delivery_reason = delivery, reason
            expire_if_due(entry.state, now)
            return self._record(challenge_id, entry, now)

    def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        with self._lock:
            now = self.now()
            entry = self._live(challenge_id, now)
            if entry is None:
                return False, None
            expire_if_due(entry.state, now)
            if entry.state.status is not ChallengeStatus.PENDING:
                return False, self._record(challenge_id, entry, now)
            entry.state.status = ChallengeStatus.CANCELED
            return True, self._record(challenge_id, entry, now)

    # -- rate limits -------------------------------------------------------------------------------

    def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        check_cost(cost)
        with self._lock:
            now = self.now()
            self._sweep(now)
            return self._hit(key, policy, cost, now)

    def _hit(self, key: str, policy: WindowPolicy, cost: int, now: float) -> WindowResult:
        window = self._windows.get(key)
        if window is None:
            events: list[float] = []
            result = window_hit(events, now, policy, cost)
            if events:  # a zero-cost or refused hit on an empty window keeps nothing
                self._room_for_a_window(now)
                window = _Window(events, policy.window)
                self._windows[key] = window
                self._schedule(_Table.WINDOWS, key, window)
            return result
        window.span = max(window.span, policy.window)
        return window_hit(window.events, now, policy, cost)

    def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        check_cost(cost)
        with self._lock:
            now = self.now()
            self._sweep(now)
            window = self._windows.get(key)
            # An emptied window stays until its heap item comes due (it then has no horizon).
            return window_refund(window.events if window is not None else [], now, policy, cost)

    def _add_lockout(self, key: str, state: LockoutState) -> None:
        held = _Lockout(state, scheduled=not state.hard)  # hard at once (hard_cap=1): no horizon
        self._lockouts[key] = held
        if held.scheduled:
            self._schedule(_Table.LOCKOUTS, key, held)

    def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        with self._lock:
            now = self.now()
            self._sweep(now)
            held = self._lockouts.get(key)
            if held is not None:
                return apply_charge(held.state, now, policy)
            state = LockoutState()
            result = apply_charge(state, now, policy)
            if state.failures:
                self._add_lockout(key, state)
            return result

    def failure_state(self, key: str) -> FailureState:
        with self._lock:
            now = self.now()
            self._sweep(now)
            held = self._lockouts.get(key)
            if held is None:
                return FailureState(allowed=True, failures=0, retry_after=0.0)
            return lockout_view(held.state, now)

    def reset_failures(self, key: str) -> None:
        with self._lock:
            self._sweep(self.now())
            held = self._lockouts.get(key)
            if held is None:
                return
            if held.scheduled:
                # Cleared in place: its heap item retires it, and a success on every login
                # leaves no stale heap item behind the way a delete-then-recreate would.
                held.state.failures, held.state.locked_until = 0, 0.0
                held.state.hard, held.state.forget_at = False, 0.0
            else:
                del self._lockouts[key]
