"""Memory-budget admission for in-flight argon2 work.

argon2id at 64 MiB per call means 200 concurrent logins would want 12.5 GiB. Every hash and
verify first reserves its memory here; callers beyond the budget queue in arrival order and
give up with :class:`~verifykit.BusyError` after a timeout, so a flood is slowed or refused
instead of exhausting the machine's memory.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

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
    __slots__ = ("cost",)

    def __init__(self, cost: int) -> None:
        self.cost = cost


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
                        raise BusyError(
                            "too many password checks are in progress; retry shortly",
                            retry_after=1.0,
                        )
                    self._cond.wait(remaining)
            finally:
                self._queue.remove(waiter)
                # The next in line may now be at the head, or room may be left for it.
                self._cond.notify_all()
            self._in_flight += cost
            self._peak = max(self._peak, self._in_flight)
        try:
            yield
        finally:
            with self._cond:
                self._in_flight -= cost
                self._cond.notify_all()
