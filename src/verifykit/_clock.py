"""Time sources. Decision logic takes the time as an argument; clocks live at the edges."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """Anything that tells the time in seconds since the epoch."""

    def now(self) -> float: ...


class SystemClock:
    """The wall clock of this process."""

    def now(self) -> float:
        return time.time()
