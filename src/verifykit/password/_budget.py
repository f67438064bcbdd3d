"""Memory-budget admission for in-flight argon2 work.

argon2id at 64 MiB per call means 200 concurrent logins would want 12.5 GiB. Every hash and
verify first reserves its memory here; callers beyond the budget queue in arrival order and
give up with :class:`~verifykit.BusyError` after a timeout, so a flood is slowed or refused
instead of exhausting the machine's memory.

Threads wait with :meth:`MemoryBudget.reserve`; asyncio tasks wait with
:meth:`MemoryBudget.reserve_async`, in the same queue, without holding a thread: a task that held
a pool thread while it waited could fill the pool that the work it waits for needs.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

from .._errors import BusyError, ConfigurationError

__all__ = ["MemoryBudget", "default_memory_budget"]


def _physical_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def default_memory_budget() -> int:
    """A quarter of the machine's physical memory (1 GiB where it cannot be read).

    A quarter leaves room for the rest of the process and its neighbours, and on any machine
    with a few GiB it still admits more concurrent hashes than there are cores to run them.
    """
    physical = _physical_memory()
    return physical // 4 if physical else 1 << 30


class _Waiter:
    __slots__ = ("cost", "wake")

    def __init__(self, cost: int, wake: Callable[[], None] | None = None) -> None:
        self.cost = cost
        self.wake = wake  # an asyncio waiter's: called (from any thread) when room may have changed


class _Held:
    """Room admitted by :meth:`MemoryBudget.reserve_async`; leaving the ``with`` block gives it back."""

    __slots__ = ("_budget", "_cost")

    def __init__(self, budget: MemoryBudget, cost: int) -> None:
        self._budget: MemoryBudget | None = budget
        self._cost = cost

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        budget, self._budget = self._budget, None
        if budget is not None:
            budget._give_back(self._cost)


class MemoryBudget:
    """At most ``capacity`` bytes of argon2 memory in flight at once; first come, first served.

    One request larger than the whole budget is admitted alone (when nothing else is in
    flight) rather than never, so an unusual stored hash can still be verified.
    """

    def __init__(self, capacity: int) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity <= 0:
            raise ConfigurationError("memory_budget must be a positive number of bytes")
        self.capacity = capacity
        self._in_flight = 0
        self._peak = 0
        self._cond = threading.Condition()
        self._queue: deque[_Waiter] = deque()

    @property
    def in_flight(self) -> int:
        with self._cond:
            return self._in_flight

    @property
    def waiting(self) -> int:
        """Callers queued for room right now."""
        with self._cond:
            return len(self._queue)

    @property
    def peak(self) -> int:
        """The most bytes ever admitted at once (for benchmarks and monitoring)."""
        with self._cond:
            return self._peak

    def _fits(self, cost: int) -> bool:
        return self._in_flight == 0 or self._in_flight + cost <= self.capacity

    def _notify(self) -> None:
        """Wake every waiter, thread or task (called with the lock held)."""
        self._cond.notify_all()
        for waiter in self._queue:
            if waiter.wake is not None:
                waiter.wake()

    def _admit(self, cost: int) -> None:
        self._in_flight += cost
        self._peak = max(self._peak, self._in_flight)

    def _give_back(self, cost: int) -> None:
        with self._cond:
            self._in_flight -= cost
            self._notify()

    @staticmethod
    def _busy() -> BusyError:
        return BusyError("too many password checks are in progress; retry shortly", retry_after=1.0)

    @contextmanager
    def reserve(self, cost: int, timeout: float) -> Iterator[None]:
        """Hold ``cost`` bytes for the duration of the block; raise BusyError after ``timeout`` s."""
        waiter = _Waiter(cost)
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            self._queue.append(waiter)
            try:
                while not (self._queue[0] is waiter and self._fits(cost)):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise self._busy()
                    self._cond.wait(remaining)
            finally:
                self._queue.remove(waiter)
                # The next in line may now be at the head, or room may be left for it.
                self._notify()
            self._admit(cost)
        try:
            yield
        finally:
            self._give_back(cost)

    async def reserve_async(self, cost: int, timeout: float) -> _Held:
        """Wait in the same queue as :meth:`reserve`, on the running event loop, for ``cost``
        bytes; ``with`` the answer gives them back. BusyError after ``timeout`` s."""
        loop = asyncio.get_running_loop()
        room = asyncio.Event()

        def wake() -> None:
            with suppress(RuntimeError):  # a loop that has closed has nobody left to wake
                loop.call_soon_threadsafe(room.set)

        waiter = _Waiter(cost, wake)
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._cond:
            self._queue.append(waiter)
        try:
            while True:
                with self._cond:
                    if self._queue[0] is waiter and self._fits(cost):
                        self._queue.remove(waiter)
                        self._admit(cost)
                        self._notify()
                        return _Held(self, cost)
                    room.clear()  # a wake from here on sets it again: none is lost
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise self._busy()
                with suppress(TimeoutError):
                    await asyncio.wait_for(room.wait(), remaining)
        except BaseException:
            with self._cond:
                if waiter in self._queue:
                    self._queue.remove(waiter)
                    self._notify()
            raise
