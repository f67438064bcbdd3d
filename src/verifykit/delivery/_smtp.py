"""Delivery over SMTP, with bounded retries and a deadline the caller can rely on.

A person is waiting on the other side of ``send``: it must give up in a known time. The
conversation itself is written once, free of I/O (:mod:`._conversation`); here it is answered
on a blocking socket. Every wait of an attempt (the name lookup, connecting, the TLS handshake,
each write and each read) is bounded by what is left of the attempt's budget, so a server that
trickles one byte at a time cannot stretch it, as it would a socket timeout alone (restarted on
every read); the name lookup runs on a short-lived thread the caller stops waiting for.

Temporary failures (4xx replies, refused or reset connections, timeouts) are retried
with exponential backoff; permanent ones (5xx replies, an untrusted certificate, a
server without STARTTLS) are not.
"""

from __future__ import annotations

import functools
import logging
import math
import socket
import ssl
import threading
import time
from contextlib import suppress
from email.message import EmailMessage
from typing import Any

from .._errors import ConfigurationError, DeliveryError
from ._address import is_unsafe_char
from ._conversation import (
    GOODBYE_WAIT,
    Command,
    Conversation,
    Envelope,
    Goodbye,
    Open,
    Reply,
    ReplyError,
    ReplyReader,
    Security,
    ServerClosed,
    StartTLS,
    Step,
    conversation,
    failure,
)
from ._mailers import require_envelope

__all__ = ["SMTPMailer", "SMTPSettings"]

_log = logging.getLogger("verifykit.delivery")

_SECURITY: tuple[Security, ...] = ("starttls", "tls", "none")
_MAX_RETRIES = 10
_READ_SIZE = 65536


@functools.cache
def _default_local_hostname() -> str:
    """The name for EHLO, looked up once per process (``getfqdn`` may query DNS)."""
    fqdn = socket.getfqdn()
    return fqdn if "." in fqdn else "[127.0.0.1]"


def _number(value: object, name: str, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"SMTPMailer {name} must be a finite number of seconds")
    if value < 0 or (positive and value == 0):
        raise ConfigurationError(f"SMTPMailer {name} must be {'positive' if positive else 'zero or more'}")
    return float(value)


class SMTPSettings:
    """Where and how to reach an SMTP server, validated once; shared by :class:`SMTPMailer` and
    :class:`~verifykit.aio.AsyncSMTPMailer`, so both keep the same deadline and retries."""

    def __init__(
        self,
        host: str = "localhost",
        port: int = 587,
        *,
        security: Security = "starttls",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        retries: int = 2,
        backoff: float = 0.5,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        if not isinstance(host, str) or not host or any(is_unsafe_char(ch) for ch in host):
            raise ConfigurationError("SMTPMailer host must be a non-empty host name or address")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigurationError("SMTPMailer port must be an integer from 1 to 65535")
        if security not in _SECURITY:
            raise ConfigurationError(f"SMTPMailer security must be one of {', '.join(_SECURITY)}")
        if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= _MAX_RETRIES:
            raise ConfigurationError(f"SMTPMailer retries must be an integer from 0 to {_MAX_RETRIES}")
        if (username is None) != (password is None):
            raise ConfigurationError("SMTPMailer needs both username and password, or neither")
        if username is not None and security == "none":
            raise ConfigurationError(
                "SMTPMailer will not send a password without TLS: use 'starttls' or 'tls'"
            )
        if ssl_context is not None and security == "none":
            raise ConfigurationError("SMTPMailer was given an ssl_context but security is 'none'")
        self.host = host
        self.port = port
        self.security: Security = security
        self.username = username
        self._password = password
        self.timeout = _number(timeout, "timeout", positive=True)
        self.retries = retries
        self.backoff = _number(backoff, "backoff", positive=False)
        self._context = ssl_context if ssl_context is not None else ssl.create_default_context()
        self.local_hostname = local_hostname if local_hostname is not None else _default_local_hostname()

    @property
    def deadline(self) -> float:
        """The longest ``send`` can take, all attempts and waits included, in seconds."""
        return self.timeout * (self.retries + 1) + self.backoff * (2.0**self.retries - 1)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(host={self.host!r}, port={self.port}, security={self.security!r}, "
            f"username={self.username!r}, timeout={self.timeout}, retries={self.retries})"
        )

    @property
    def _where(self) -> str:
        return f"SMTP server {self.host}:{self.port}"

    def _schedule(self) -> _Schedule:
        return _Schedule(self.timeout, self.retries, self.backoff, self.deadline)

    def _conversation(self, envelope: Envelope) -> Conversation:
        login = None if self.username is None or self._password is None else (self.username, self._password)
        return conversation(
            envelope,
            security=self.security,
            local_hostname=self.local_hostname,
            login=login,
            where=self._where,
        )


class _Schedule:
    """The retry policy of one ``send``: each attempt's time budget, and after a failure either the
    wait before the next attempt or the final error. Both SMTP mailers follow it."""

    def __init__(self, timeout: float, retries: int, backoff: float, deadline: float) -> None:
        self._timeout = timeout
        self._backoff = backoff
        self.attempts = range(1, retries + 2)
        self._end = time.monotonic() + deadline

    def budget(self) -> float:
        # The floor only guards against a clock that jumped; backoff checks keep budgets whole.
        return max(min(self._timeout, self._end - time.monotonic()), 0.01)

    def retry_after(self, attempt: int, exc: DeliveryError) -> float:
        """The wait before the next attempt; raises the final :class:`DeliveryError` when giving up."""
        delay = self._backoff * 2.0 ** (attempt - 1)
        if not exc.temporary or attempt == self.attempts[-1] or time.monotonic() + delay >= self._end:
            plural = "s" if attempt > 1 else ""
            raise DeliveryError(
                f"{exc.message} (gave up after {attempt} attempt{plural})", temporary=exc.temporary
            ) from exc
        _log.warning(
            "SMTP attempt %d of %d failed (%s); retrying in %.2f s",
            attempt,
            self.attempts[-1],
            exc.message,
            delay,
        )
        return delay


class SMTPMailer(SMTPSettings):
    """Sends through an SMTP server, over STARTTLS (default), implicit TLS, or plain (``"none"``).

    ``timeout`` bounds each attempt from connecting to the server's final reply. Temporary
    failures are retried up to ``retries`` times, waiting ``backoff``, then twice as long, and
    so on. ``send`` therefore always returns or raises within :attr:`deadline`::

        timeout * (retries + 1) + backoff * (2 ** retries - 1)

    With the defaults that is 31.5 s. Certificates are always verified: pass ``ssl_context``
    to trust a private CA. A password is never sent without TLS.
    """

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`~verifykit.DeliveryError` within :attr:`deadline`."""
        require_envelope(message)
        envelope = Envelope.of(message)
        schedule = self._schedule()
        for attempt in schedule.attempts:
            try:
                self._attempt(envelope, schedule.budget())
                return
            except DeliveryError as exc:
                time.sleep(schedule.retry_after(attempt, exc))

    def _attempt(self, envelope: Envelope, budget: float) -> None:
        link = _Link(self, budget)
        talk = self._conversation(envelope)
        try:
            step = next(talk)
            while not isinstance(step, Goodbye):
                step = talk.send(link.answer(step))
            link.goodbye(step)
        except Exception as exc:
            error = failure(exc, self._where, budget)
            if error is None or error is exc:
                raise
            raise error from exc
        finally:
            talk.close()
            link.close()


class _Link:
    """One connection answering a conversation's steps with blocking calls, each bounded by the
    end of the attempt: past it, a wait raises TimeoutError."""

    def __init__(self, mailer: SMTPMailer, budget: float) -> None:
        self._mailer = mailer
        self._end = time.monotonic() + budget
        self._sock: socket.socket | None = None
        self._replies = ReplyReader()

    def answer(self, step: Step) -> Reply | None:
        match step:
            case Open(tls=tls):
                self._sock = self._connect()
                if tls:
                    self._sock = self._tls(self._sock)
                return self._reply()
            case Command(data=data):
                self._send(data)
                return self._reply()
            case StartTLS():
                self._replies.before_tls()
                self._sock = self._tls(self._open())
                return None
        raise TypeError(f"{step!r} is not a step this link answers")

    def goodbye(self, step: Goodbye) -> None:
        self._end = min(self._end, time.monotonic() + GOODBYE_WAIT)
        with suppress(OSError, ServerClosed, ReplyError):
            self._send(step.data)
            self._reply()

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def _left(self) -> float:
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError
        return left

    def _open(self) -> socket.socket:
        if self._sock is None:
            raise ServerClosed
        return self._sock

    def _connect(self) -> socket.socket:
        mailer = self._mailer
        refusal: OSError = OSError("no address")
        for family, kind, proto, _, address in _resolve(mailer.host, mailer.port, self._left()):
            sock = socket.socket(family, kind, proto)
            try:
                sock.settimeout(self._left())
                sock.connect(address)
            except OSError as exc:
                sock.close()
                refusal = exc
            else:
                return sock
        raise refusal

    def _tls(self, sock: socket.socket) -> ssl.SSLSocket:
        sock.settimeout(self._left())  # the whole handshake, not each of its reads
        return self._mailer._context.wrap_socket(sock, server_hostname=self._mailer.host)

    def _send(self, data: bytes) -> None:
        sock = self._open()
        sock.settimeout(self._left())  # the whole write
        sock.sendall(data)

    def _reply(self) -> Reply:
        sock = self._open()
        while (reply := self._replies.next_reply()) is None:
            sock.settimeout(self._left())
            data = sock.recv(_READ_SIZE)
            if not data:
                raise ServerClosed
            self._replies.feed(data)
        return reply


def _resolve(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    """The addresses of ``host``; a name is looked up on a thread given up on after ``timeout``."""
    with suppress(socket.gaierror):
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    found: list[tuple[Any, ...]] = []
    errors: list[OSError] = []

    def look_up() -> None:
        try:
            found.extend(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            errors.append(exc)

    lookup = threading.Thread(target=look_up, name="verifykit-smtp-lookup", daemon=True)
    lookup.start()
    lookup.join(timeout)
    if lookup.is_alive():
        raise TimeoutError
    if errors:
        raise errors[0]
    return found
