"""A separate pool for CPU-heavy work (argon2, dlib), so it never starves the fast calls.

A heavy call holds its gRPC handler thread while it waits, so the pool admits at most
``slots`` heavy calls at once (running plus queued) and refuses the next with
:class:`~verifykit.BusyError`, which the sidecar answers as RESOURCE_EXHAUSTED with a
retry delay. The configuration keeps ``slots`` below the handler threads, so OTP checks
always find a free thread however many face verifies arrive.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import ParamSpec, TypeVar

from .._errors import BusyError

__all__ = ["DeadlineExceeded", "HeavyPool"]

P = ParamSpec("P")
T = TypeVar("T")


class DeadlineExceeded(Exception):
    """The caller's deadline passed before the heavy work finished (the sidecar answers DEADLINE_EXCEEDED)."""


class HeavyPool:
    def __init__(self, workers: int, slots: int, *, retry_after: float = 1.0) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verifykit-heavy")
        self._slots = threading.BoundedSemaphore(slots)
        self._retry_after = retry_after
        self.capacity = slots

    def run(self, timeout: float | None, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the pool and wait at most ``timeout`` seconds (None: no limit)."""
        if not self._slots.acquire(blocking=False):
            raise BusyError("too much CPU-heavy work in flight; retry shortly", retry_after=self._retry_after)
        try:
            future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        except RuntimeError:  # shut down
            self._slots.release()
            raise BusyError(
                "shutting down; retry on another instance", retry_after=self._retry_after
            ) from None
        future.add_done_callback(lambda _f: self._slots.release())
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            future.cancel()  # a queued call never starts; a running one finishes unseen
            raise DeadlineExceeded from None

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
