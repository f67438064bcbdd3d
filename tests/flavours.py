"""Run a test written for the sync API over the asyncio flavour, unchanged.

:class:`Driven` drives an asyncio object from plain calls: an event loop runs in a background
thread, and each call waits for its coroutine there; :class:`AsyncDriven` does so for an async
store. So a suite written once against
``ChallengeStore`` holds the async store to the same behaviour, and threads that call at once
become tasks racing in one loop.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from verifykit.aio._store import AsyncChallengeStore

__all__ = ["FLAVOURS", "AsyncDriven", "Driven", "LoopThread"]

T = TypeVar("T")

FLAVOURS = ["sync", "async"]


class LoopThread:
    """An event loop running in a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="test-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def stop(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join()
        self.loop.close()


class Driven:
    """An asyncio object behind plain calls: coroutine methods are awaited on ``loop`` (a loop of
    its own when none is given); any other attribute is the object's own."""

    def __init__(self, inner: Any, loop: LoopThread | None = None) -> None:
        self.inner = inner
        self._loop = loop if loop is not None else LoopThread()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.inner!r})"

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute
        return functools.partial(self._call, attribute)

    def _call(self, method: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        return self._loop.run(method(*args, **kwargs))


class AsyncDriven(Driven):
    """An :class:`AsyncChallengeStore` behind the sync ``ChallengeStore`` methods, on a loop of its
    own that :meth:`close` ends after closing the store."""

    def __init__(self, store: AsyncChallengeStore) -> None:
        super().__init__(store)

    def close(self) -> None:
        if not self._loop.loop.is_closed():
            self._loop.run(self.inner.close())
            self._loop.stop()

    def __enter__(self) -> AsyncDriven:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
