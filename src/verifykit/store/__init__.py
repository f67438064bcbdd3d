"""The shared challenge store, chosen by URL.

``memory://`` (embedded default), ``redis://host:port/db`` or ``rediss://…`` (one Redis
server), and ``redis+cluster://host:port[,host:port…]`` (Redis Cluster).
"""

from __future__ import annotations

from ._base import (
    AttemptOutcome,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    FailureState,
    LiveSend,
    LockoutPolicy,
    NewChallenge,
    ResendOutcome,
    WindowPolicy,
    WindowResult,
)
from ._factory import open_store
from ._memory import MemoryStore
from ._rules import DELIVERY_FAILED

__all__ = [
    "DELIVERY_FAILED",
    "AttemptOutcome",
    "ChallengeRecord",
    "ChallengeStatus",
    "ChallengeStore",
    "FailureState",
    "LiveSend",
    "LockoutPolicy",
    "MemoryStore",
    "NewChallenge",
    "ResendOutcome",
    "WindowPolicy",
    "WindowResult",
    "open_store",
]
