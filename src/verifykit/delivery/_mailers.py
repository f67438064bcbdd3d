"""The mailer protocol and the mailers that need no mail server.

A mailer hands one message on or raises :class:`~verifykit.DeliveryError`; whether the
failure is temporary tells the caller if trying again later can help. Error messages
never contain the message body (it holds the code).
"""

from __future__ import annotations

import errno
import logging
import os
import secrets
import sys
import threading
import time
from contextlib import suppress
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol, TextIO, runtime_checkable

from .._errors import DeliveryError, InvalidInput

__all__ = [
    "ConsoleMailer",
    "FallbackMailer",
    "FileMailer",
    "Mailer",
    "Outbox",
    "both_failed",
    "primary_failed",
    "require_envelope",
]

_log = logging.getLogger("verifykit.delivery")


@runtime_checkable
class Mailer(Protocol):
    """Anything that can hand an email on.

    ``send`` returns once the message is accepted (by a server, a file, a list) and raises
    :class:`~verifykit.DeliveryError` otherwise, with ``temporary=True`` when a later
    attempt may succeed.
    """

    def send(self, message: EmailMessage) -> None: ...


def require_envelope(message: EmailMessage) -> None:
    """Refuse, before any I/O, a message that has no sender or no recipient."""
    if not isinstance(message, EmailMessage):
        raise InvalidInput("a mailer sends email.message.EmailMessage objects", field="message")
    if not message["From"] or not (message["To"] or message["Cc"] or message["Bcc"]):
        raise InvalidInput("the message needs a From and a To header", field="message")


class Outbox:
    """A mailer that keeps messages in memory: for tests and the demo. Thread-safe.

    ``fail_next(n)`` makes the next ``n`` sends fail, to test what your code does when
    the mail server is down.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._failures: list[bool] = []

    def send(self, message: EmailMessage) -> None:
        require_envelope(message)
        with self._lock:
            if self._failures:
                temporary = self._failures.pop(0)
                kind = "temporary" if temporary else "permanent"
                raise DeliveryError(f"outbox: simulated {kind} delivery failure", temporary=temporary)
            self._messages.append(message)

    @property
    def messages(self) -> list[EmailMessage]:
        """The messages sent so far, oldest first (a copy of the list)."""
        with self._lock:
            return list(self._messages)

    def last(self) -> EmailMessage:
        """The most recent message; raises :class:`LookupError` when nothing was sent."""
        with self._lock:
            if not self._messages:
                raise LookupError("the outbox is empty")
            return self._messages[-1]

    def clear(self) -> None:
        """Forget every message and every pending simulated failure."""
        with self._lock:
            self._messages.clear()
            self._failures.clear()

    def fail_next(self, n: int = 1, *, temporary: bool = True) -> None:
        """Make the next ``n`` sends raise :class:`~verifykit.DeliveryError` (on top of any pending)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInput("n must be a non-negative integer", field="n")
        with self._lock:
            self._failures.extend([temporary] * n)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)


class ConsoleMailer:
    """Prints each message, raw MIME between two marker lines. Development only: it shows the code.

    ``stream`` defaults to whatever ``sys.stdout`` is at the time of sending.
    """

    BEGIN = "----- begin message (development mailer: it contains the code) -----"
    END = "----- end message -----"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        require_envelope(message)
        text = message.as_string()
        stream = self._stream if self._stream is not None else sys.stdout
        try:
            with self._lock:
                stream.write(f"{self.BEGIN}\n{text.rstrip()}\n{self.END}\n")
                stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: the stream was closed
            raise DeliveryError(f"console mailer could not write: {type(exc).__name__}") from exc


class FileMailer:
    """Writes each message to ``directory`` as a new ``.eml`` file. Development only: files hold the code.

    A file appears complete or not at all (written aside, then renamed), readable by its
    owner only. The directory is created when missing.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        require_envelope(message)
        data = message.as_bytes()
        name = f"{time.time_ns()}-{secrets.token_hex(4)}.eml"
        partial = self.directory / f".{name}.partial"
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(data)
            os.replace(partial, self.directory / name)
        except OSError as exc:
            with suppress(OSError):
                partial.unlink(missing_ok=True)
            temporary = exc.errno in {errno.ENOSPC, errno.EDQUOT, errno.EAGAIN}
            raise DeliveryError(
                f"could not write a message file in {self.directory}: {exc.strerror or type(exc).__name__}",
                temporary=temporary,
            ) from exc


class FallbackMailer:
    """Tries ``primary``; when it fails, hands the same message to ``fallback``.

    The error raised when both fail names both reasons, and is temporary if either was:
    trying again later may then succeed.
    """

    def __init__(self, primary: Mailer, fallback: Mailer) -> None:
        for role, mailer in (("primary", primary), ("fallback", fallback)):
            if not isinstance(mailer, Mailer):
                raise InvalidInput(f"{role} must be a mailer (an object with send(message))", field=role)
        self.primary = primary
        self.fallback = fallback

    def send(self, message: EmailMessage) -> None:
        try:
            self.primary.send(message)
            return
        except DeliveryError as first:
            primary_failed(first)
            try:
                self.fallback.send(message)
            except DeliveryError as second:
                raise both_failed(first, second) from second


def primary_failed(first: DeliveryError) -> None:
    _log.warning("primary mailer failed (%s); trying the fallback mailer", first.message)


def both_failed(first: DeliveryError, second: DeliveryError) -> DeliveryError:
    """The error when both routes failed: both reasons; temporary if either was."""
    return DeliveryError(
        f"primary: {first.message}; fallback: {second.message}", temporary=first.temporary or second.temporary
    )
