"""Moved to :mod:`verifykit.store`; these names stay importable from here, as from :mod:`verifykit.aio`."""

from ..store import AsyncChallengeStore, AsyncMemoryStore, AsyncRedisClusterStore, AsyncRedisStore
from ..store import open_async_store as open_store

__all__ = [
    "AsyncChallengeStore",
    "AsyncMemoryStore",
    "AsyncRedisClusterStore",
    "AsyncRedisStore",
    "open_store",
]
