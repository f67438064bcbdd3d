"""Helpers for testing code that uses verifykit: a fake clock, a capturing mailer, a memory store.

>>> clock = FakeClock()
>>> outbox = Outbox()
>>> otp = EmailOTP(store=MemoryStore(clock=clock), keyring=Keyring.generate(), mailer=outbox)
>>> ch = otp.start("user-1", "ana@example.com")
>>> otp.check(ch.id, last_code(outbox)).approved
True
"""

from __future__ import annotations

import threading

from .crypto import Keyring
from .delivery import Outbox, code_in
from .otp import EmailOTP
from .store import MemoryStore

__all__ = ["EmailOTP", "FakeClock", "Keyring", "MemoryStore", "Outbox", "code_in", "last_code"]


class FakeClock:
    """A clock that moves only when told to. Pass it to :class:`MemoryStore`."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds

    def set(self, when: float) -> None:
        with self._lock:
            self._now = when


def last_code(outbox: Outbox) -> str:
    """The code in the newest message of ``outbox``."""
    return code_in(outbox.last())
