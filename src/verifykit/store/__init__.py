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
from ._entries import EntryChange, FeedPoll, SharedEntries, Written, stream_position
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
    "ChallengeBrief",
    "ChallengeRecord",
    "ChallengeStatus",
    "ChallengeStore",
    "EntryChange",
    "FailureState",
    "FeedPoll",
    "LiveSend",
    "LockoutPolicy",
    "MemoryStore",
    "NewChallenge",
    "Opened",
    "ResendOutcome",
    "SharedEntries",
    "StoreURL",
    "WindowPolicy",
    "WindowResult",
    "Written",
    "open_async_store",
    "open_store",
    "parse_store_url",
    "resend_refusal",
    "stream_position",
]
