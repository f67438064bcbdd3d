"""Waiting for a state the system reaches on its own: poll with a deadline, never sleep and hope.

The deadline is generous, for a loaded machine; a poll ends as soon as the state shows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

DEADLINE = 60.0


def wait_for(check: Callable[[], Any], what: str, *, deadline: float = DEADLINE) -> Any:
    """Call ``check`` until it returns something true, and return that; fail after ``deadline``."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {deadline:.0f} s waiting for {what}")
