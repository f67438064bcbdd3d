"""Run a verifier suite written against the sync API over the asyncio flavour too, unchanged.

:class:`Flavour` builds verifiers of one flavour. ``sync`` builds the sync class on a sync store.
``async`` builds the :mod:`verifykit.aio` class on the matching async store and hands it back
behind sync-looking methods (:class:`Driven`): each call waits for its coroutine on one event
loop in a background thread, so threads that call at once become tasks racing in that loop.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest

from flavours import FLAVOURS, AsyncDriven, LoopThread
from verifykit.aio._store import AsyncChallengeStore, AsyncMemoryStore
from verifykit.aio._store import open_store as open_async_store
from verifykit.store import ChallengeStore, MemoryStore, open_store

__all__ = ["Driven", "Flavour", "flavour"]

T = TypeVar("T")


class Driven(AsyncDriven):
    """An asyncio object behind plain calls on a loop shared with its store (an
    :class:`AsyncDriven` that owns no loop): coroutine methods run on ``loop``; any other
    attribute is the object's own."""

    def __init__(self, inner: Any, loop: LoopThread) -> None:  # no loop of its own: no super().__init__
        self.inner = inner
        self._loop = loop

    def __repr__(self) -> str:
        return f"Driven({self.inner!r})"

    def close(self) -> None:
        """The object's own ``close`` (the loop belongs to whoever made it)."""
        done = self.inner.close()
        if inspect.isawaitable(done):
            self._loop.run(done)


class Flavour:
    """Verifiers of one flavour (``"sync"`` or ``"async"``), on stores it opens; :meth:`close` ends them.

    ``open_sync(url, **options)`` and ``open_async(url, **options)`` open stores with a namespace
    of the test's own (the ``make_store`` and ``make_async_store`` fixtures).
    """

    def __init__(
        self,
        name: str,
        open_sync: Callable[..., ChallengeStore],
        open_async: Callable[..., AsyncChallengeStore],
    ) -> None:
        self.name = name
        self._open_sync = open_sync
        self._open_async = open_async
        self._loop: LoopThread | None = None
        self._async_stores: list[AsyncChallengeStore] = []

    def __repr__(self) -> str:
        return self.name

    @property
    def is_async(self) -> bool:
        return self.name == "async"

    @property
    def loop(self) -> LoopThread:
        if self._loop is None:
            self._loop = LoopThread()
        return self._loop

    def store(self, url: str, *, keys: bool = True, **options: Any) -> Any:
        """A store of this flavour on ``url``; ``keys=False`` for a server that never answers
        (nothing to remove afterwards)."""
        if not self.is_async:
            return self._open_sync(url, **options) if keys else open_store(url, **options)
        store = self._open_async(url, **options) if keys else open_async_store(url, **options)
        self._async_stores.append(store)
        return store

    def memory_store(self, memory: MemoryStore) -> Any:
        """``memory`` itself, or the async store around it (to share a fake clock)."""
        return AsyncMemoryStore(memory) if self.is_async else memory

    def build(self, sync_class: Callable[..., T], async_class: Callable[..., Any], **options: Any) -> T:
        """``sync_class(**options)``, or ``async_class(**options)`` behind sync-looking methods."""
        if not self.is_async:
            return sync_class(**options)
        built: T = Driven(async_class(**options), self.loop)  # type: ignore[assignment]
        return built

    def close(self) -> None:
        if self._loop is None:
            return
        for store in self._async_stores:
            self._loop.run(store.close())
        self._async_stores.clear()
        self._loop.stop()


@pytest.fixture(params=FLAVOURS)
def flavour(request: pytest.FixtureRequest, make_store: Any, make_async_store: Any) -> Iterator[Flavour]:
    """Each flavour in turn: ``sync`` and ``async`` (verifykit.aio). Import it into a conftest."""
    built = Flavour(str(request.param), make_store, make_async_store)
    yield built
    built.close()
