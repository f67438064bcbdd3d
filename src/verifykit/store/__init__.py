"""The shared challenge store, chosen by URL.

``memory://`` (embedded default), ``redis://host:port/db`` or ``rediss://…`` (one Redis
server), and ``redis+cluster://host:port[,host:port…]`` (Redis Cluster).

Each store comes in two flavours with the same operations, arguments and results:
:func:`open_store` opens a :class:`ChallengeStore`, :func:`open_async_store` an
:class:`AsyncChallengeStore` for asyncio (also :func:`verifykit.aio.open_store`).
"""

from __future__ import annotations

from ._aio import (
    AsyncChallengeStore,
    AsyncMemoryStore,
    AsyncRedisClusterStore,
    AsyncRedisStore,
    open_async_store,
)
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
from ._factory import StoreURL, open_store, parse_store_url
from ._memory import MemoryStore
from ._rules import DELIVERY_FAILED, resend_refusal

__all__ = [
    "DELIVERY_FAILED",
    "AsyncChallengeStore",
    "AsyncMemoryStore",
    "AsyncRedisClusterStore",
    "AsyncRedisStore",
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
    "StoreURL",
    "WindowPolicy",
    "WindowResult",
    "open_async_store",
    "open_store",
    "parse_store_url",
    "resend_refusal",
]
