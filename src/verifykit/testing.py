"""Helpers for testing code that uses verifykit: a fake clock, a capturing mailer, a memory store.

>>> clock = FakeClock()
>>> outbox = Outbox()
>>> otp = EmailOTP(store=MemoryStore(clock=clock), mailer=outbox, keyring=Keyring.generate())
>>> ch = otp.start("user-1", "ana@example.com")
>>> otp.check(ch.id, last_code(outbox)).approved
True
"""

from __future__ import annotations

import re
import threading
from email.message import EmailMessage

from .crypto import Keyring
from .delivery import Outbox
from .otp import EmailOTP
from .store import MemoryStore

__all__ = ["EmailOTP", "FakeClock", "Keyring", "MemoryStore", "Outbox", "code_in", "last_code"]

# The plain-text template puts the code alone on its own line.
_CODE_LINE = re.compile(r"^[ \t]*(\d{4,10})[ \t\r]*$", re.MULTILINE)


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


def code_in(message: EmailMessage) -> str:
    """The one-time code in a message verifykit sent (read from its plain-text part)."""
    part = message.get_body(preferencelist=("plain",))
    if part is None:
        raise ValueError("message has no text/plain part")
    text = part.get_content()
    if not isinstance(text, str):
        raise ValueError("message text is not a string")
    match = _CODE_LINE.search(text)
    if match is None:
        raise ValueError("no code in message")
    return match.group(1)


def last_code(outbox: Outbox) -> str:
    """The code in the newest message of ``outbox``."""
    return code_in(outbox.last())
