"""The challenge store: opaque challenge records, rate-limit counters and expiries.

The store knows nothing about verifiers. It offers a few operations, each atomic:
one Lua script on Redis, one lock in memory. The rules those operations apply live
in :mod:`verifykit.store._rules` as pure functions of (state, time, arguments), and the
Lua scripts mirror them; one behaviour suite and a stateful property test hold every
backend to the same model.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .._errors import ConfigurationError

__all__ = [
    "AttemptOutcome",
    "ChallengeBrief",
    "ChallengeRecord",
    "ChallengeStatus",
    "ChallengeStore",
    "FailureState",
    "LiveSend",
    "LockoutPolicy",
    "NewChallenge",
    "Opened",
    "ResendOutcome",
    "WindowPolicy",
    "WindowResult",
]


class ChallengeStatus(StrEnum):
    """A challenge's status moves only forward: pending -> approved | denied | expired | canceled."""

    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"
    CANCELED = "canceled"


@dataclass(frozen=True, slots=True)
class NewChallenge:
    """What a verifier hands the store to open a challenge; the store stamps the times."""

    id: str
    kind: str
    subject: str
    secret: str
    ttl: float
    max_attempts: int
    resend_after: float
    destination: str = ""
    delivery: str = "queued"
    data: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LiveSend:
    """One send whose code may still approve: its number (1 is the first message), its keyed
    digest (``"kid:hex"``, never a code) and its own expiry.

    Mail is often late, not lost: a challenge keeps the digests of its last few sends, so the
    code in a message that arrives after a resend still works until that message's own expiry.
    """

    send: int
    secret: str
    expires_at: float


@dataclass(frozen=True, slots=True)
class ChallengeRecord:
    """One pending or closed challenge as the store keeps it.

    ``live`` holds the sends whose codes the store still checks, oldest first (see
    :class:`LiveSend`); ``expires_at`` is the latest of their expiries. ``approved_send`` is the
    send whose code approved the challenge (0 until one did). ``destination`` is masked.
    ``data`` is verifier-owned and opaque to the store (for example a sealed address).
    ``as_of`` is the store's clock when the record was read (NaN when unknown): a view of the
    record can be judged at that moment without asking the store for the time again.
    """

    id: str
    kind: str
    subject: str
    status: ChallengeStatus
    created_at: float
    expires_at: float
    attempts_left: int
    max_attempts: int
    sends: int
    resend_at: float
    destination: str
    delivery: str
    delivery_reason: str
    live: tuple[LiveSend, ...]
    approved_send: int
    data: Mapping[str, str]
    as_of: float = field(default=math.nan, compare=False)

    @property
    def secret(self) -> str:
        """The newest send's digest ("" when none is kept)."""
        return self.live[-1].secret if self.live else ""

    def live_at(self, now: float) -> tuple[LiveSend, ...]:
        """The sends whose codes would still approve at ``now`` (none once the challenge is closed)."""
        if self.status is not ChallengeStatus.PENDING:
            return ()
        return tuple(s for s in self.live if now < s.expires_at)


@dataclass(frozen=True, slots=True)
class ChallengeBrief:
    """What a check needs to know of a challenge after its attempt: who and where it is for, its
    status, the attempts left, the send whose code approved it (0 until one did) and when it
    was started (so that an approval's audit record can say how long it took).

    :meth:`ChallengeStore.attempt` answers with this rather than a whole
    :class:`ChallengeRecord`: a check reads and returns only these fields, which keeps it one
    short round trip (:meth:`ChallengeStore.get` reads the rest).
    """

    id: str
    kind: str
    subject: str
    destination: str
    status: ChallengeStatus
    attempts_left: int
    approved_send: int
    created_at: float  # on the store's clock; NaN from a store that kept none


@dataclass(frozen=True, slots=True)
class Opened:
    """The answer to :meth:`ChallengeStore.open`: the new challenge, or what refused it.

    ``locked`` is the lockout that refused (nothing was counted or stored); ``limited`` the index,
    in the order given, of the window that refused, with its ``window`` answer (the windows before
    it were counted, as separate hits in that order would have been). Otherwise ``record`` is the
    challenge now stored.
    """

    record: ChallengeRecord | None
    locked: FailureState | None = None
    limited: int | None = None
    window: WindowResult | None = None


class AttemptOutcome(StrEnum):
    APPROVED = "approved"
    LOCKED = "locked"
    WRONG = "wrong"
    EXHAUSTED = "exhausted"
    EXPIRED = "expired"
    CLOSED = "closed"
    MISSING = "missing"


class ResendOutcome(StrEnum):
    OK = "ok"
    TOO_SOON = "too_soon"
    MAX_SENDS = "max_sends"
    EXPIRED = "expired"
    CLOSED = "closed"
    MISSING = "missing"


@dataclass(frozen=True, slots=True)
class WindowResult:
    """A sliding-window rate-limit answer."""

    allowed: bool
    count: int
    limit: int
    retry_after: float


@dataclass(frozen=True, slots=True)
class FailureState:
    """Consecutive failures charged to a key, and whether the next attempt must wait.

    ``allowed`` says whether the operation that asked was let through (and charged).
    ``hard_locked`` means the hard cap was reached: only :meth:`ChallengeStore.reset_failures`
    (a success through another way in, or an assisted unlock) opens it again.
    """

    allowed: bool
    failures: int
    retry_after: float
    hard_locked: bool = False


@dataclass(frozen=True, slots=True)
class WindowPolicy:
    """At most ``limit`` events per sliding ``window`` seconds on one key."""

    limit: int
    window: float

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0:
            raise ConfigurationError("a window policy needs limit >= 1 and window > 0")


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """Escalating lockout after consecutive failures on one key.

    From the ``threshold``-th consecutive failure on, the key waits ``lockout`` seconds,
    doubling with each further failure up to ``lockout_max``. At ``hard_cap`` failures
    (NIST SP 800-63B: at most 100) it stays locked until reset. Failures are forgotten
    ``memory`` seconds after the last one unless hard-locked.
    """

    threshold: int = 5
    lockout: float = 30.0
    lockout_max: float = 3600.0
    hard_cap: int = 100
    memory: float = 86400.0

    def __post_init__(self) -> None:
        if not 1 <= self.threshold <= self.hard_cap <= 100:
            raise ConfigurationError("lockout needs 1 <= threshold <= hard_cap <= 100 (NIST SP 800-63B)")
        if self.lockout <= 0 or self.lockout_max < self.lockout or self.memory <= 0:
            raise ConfigurationError("lockout times must be positive and lockout_max >= lockout")

    def delay(self, failures: int) -> float:
        """Seconds to wait after ``failures`` consecutive failures (0 below the threshold)."""
        if failures < self.threshold:
            return 0.0
        exponent = min(failures - self.threshold, 32)
        return float(min(self.lockout * (2**exponent), self.lockout_max))


class ChallengeStore(abc.ABC):
    """Abstract store; pick a backend with :func:`verifykit.store.open_store`.

    Every method may raise :class:`~verifykit.StoreUnavailable`; none ever reports an
    approval it could not make durable.
    """

    namespace: str

    @abc.abstractmethod
    def now(self) -> float:
        """The backend's clock (Redis ``TIME``), the only clock expiry is judged by."""

    # -- challenges ----------------------------------------------------------------------------

    @abc.abstractmethod
    def create(self, new: NewChallenge, *, retention: float) -> ChallengeRecord:
        """Store a new pending challenge; keep it ``retention`` seconds past expiry for status."""

    @abc.abstractmethod
    def open(
        self,
        new: NewChallenge,
        *,
        retention: float,
        lockout_key: str | None = None,
        limits: Sequence[tuple[str, WindowPolicy]] = (),
    ) -> Opened:
        """Open a challenge unless a limit refuses, in one step: refuse while ``lockout_key`` is
        locked out (it is read, never charged), then count one event on each window of ``limits``
        in order, stopping at the first that is full, then :meth:`create`.

        The same as :meth:`failure_state`, :meth:`hit` for each limit and :meth:`create` one after
        another, for one round trip where the keys allow it (a Redis Cluster takes them one by one:
        the keys of a subject, a mailbox and a client address lie in different slots).
        """

    @abc.abstractmethod
    def get(self, challenge_id: str) -> ChallengeRecord | None:
        """The challenge, with a pending one past its expiry reported as expired; None if unknown."""

    @abc.abstractmethod
    def attempt(
        self,
        challenge_id: str,
        candidates: Sequence[str],
        *,
        lockout_key: str | None = None,
        lockout: LockoutPolicy | None = None,
    ) -> tuple[AttemptOutcome, ChallengeBrief | None, FailureState | None]:
        """Spend one attempt: approve if a candidate digest equals the digest of a live send that has
        not passed its own expiry (the brief's ``approved_send`` then names it). Atomic.

        With ``lockout_key`` (which must share the challenge's hash tag), the same atomic step
        refuses while that key is locked out, charges a wrong answer to it and clears it on
        approval, so a per-subject limit across challenges costs no extra round trip.
        """

    @abc.abstractmethod
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
        """Add a send with its own digest and expiry if the cooldown has passed. Atomic.

        The challenge keeps the newest ``live_sends`` sends (unexpired ones only); 1 keeps only the
        new one, so every earlier code stops working. Returns the outcome, the record after it,
        and seconds to wait when refused.
        """

    @abc.abstractmethod
    def set_delivery(self, challenge_id: str, delivery: str, reason: str = "") -> ChallengeRecord | None:
        """Record how delivery went (queued, sent, failed)."""

    @abc.abstractmethod
    def cancel(self, challenge_id: str) -> tuple[bool, ChallengeRecord | None]:
        """Move a pending challenge to canceled; False if it was no longer pending (or unknown)."""

    # -- rate limits ---------------------------------------------------------------------------

    @abc.abstractmethod
    def hit(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        """Count ``cost`` events in a sliding window unless that would pass the limit. Atomic.

        ``cost=0`` only reads. A refused hit counts nothing.
        """

    @abc.abstractmethod
    def refund(self, key: str, policy: WindowPolicy, cost: int = 1) -> WindowResult:
        """Give back up to ``cost`` of the newest events still in the window. Atomic.

        The pair to a hit taken *before* the work it limits: charging first keeps a limit exact
        however many callers race, and the caller refunds when the work turns out not to count
        (a success, for a limit on failures). A key with no events is left absent.
        """

    @abc.abstractmethod
    def charge(self, key: str, policy: LockoutPolicy) -> FailureState:
        """Charge one failure before an attempt, refusing (uncharged) while locked. Atomic.

        Charging first makes the cap exact under concurrency; call :meth:`reset_failures`
        when the attempt succeeds.
        """

    @abc.abstractmethod
    def failure_state(self, key: str) -> FailureState:
        """Read the failure count and any lockout without changing them."""

    @abc.abstractmethod
    def reset_failures(self, key: str) -> None:
        """Forget consecutive failures (after a success, or an assisted unlock)."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""

    def __enter__(self) -> ChallengeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
