"""Admission for CPU-heavy calls (argon2, dlib), so they never starve the fast ones.

The event loop serves every call; heavy work runs in :attr:`HeavyGate.executor` (threads; face
work in the verifier's worker processes when its settings ask for them), never on the loop.
The gate admits at most ``slots`` heavy calls at once (running plus queued) and refuses the
next with :class:`~verifykit.BusyError`, which the sidecar answers as RESOURCE_EXHAUSTED with a
retry delay; a call still unfinished at its deadline is DEADLINE_EXCEEDED. OTP calls never
pass the gate and use no heavy thread, so however many heavy calls arrive they are answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from .._errors import BusyError, DeadlineExceeded

__all__ = ["HeavyGate"]

T = TypeVar("T")


class HeavyGate:
    """``await gate.run(timeout, work)``: run the coroutine ``work()`` if a slot is free."""

    def __init__(self, workers: int, slots: int, *, retry_after: float = 1.0) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verifykit-heavy")
        self.capacity = slots
        self._in_flight = 0
        self._retry_after = retry_after
        self._closed = False

    @property
    def in_flight(self) -> int:
        """Heavy calls admitted and not yet finished."""
        return self._in_flight

    async def run(self, timeout: float | None, work: Callable[[], Awaitable[T]]) -> T:
        """Admit ``work`` and wait for it at most ``timeout`` seconds (None: no limit).

        Runs on the event loop only, so a plain counter is exact. A call past its deadline is
        cancelled: work still queued for a thread never starts, work already running finishes unseen.
        """
        if self._closed:
            raise BusyError("shutting down; retry on another instance", retry_after=self._retry_after)
        if self._in_flight >= self.capacity:
            raise BusyError("too much CPU-heavy work in flight; retry shortly", retry_after=self._retry_after)
        self._in_flight += 1
        try:
            return await asyncio.wait_for(work(), timeout)
        except TimeoutError:
            raise DeadlineExceeded("the deadline passed before the heavy work finished") from None
        finally:
            self._in_flight -= 1

    def shutdown(self) -> None:
        """Refuse new heavy calls, drop queued work, wait for running work."""
        self._closed = True
        self.executor.shutdown(wait=True, cancel_futures=True)
