"""Delivery over SMTP, with bounded retries and a deadline the caller can rely on.

A person is waiting on the other side of ``send``: it must give up in a known time.
Each attempt runs on its own short-lived thread and the caller stops waiting when the
attempt's budget is spent, whatever the server or the name resolver does; the abandoned
connection is shut down. A socket timeout alone would not do: a server that trickles
one byte at a time restarts it on every read.

Temporary failures (4xx replies, refused or reset connections, timeouts) are retried
with exponential backoff; permanent ones (5xx replies, an untrusted certificate, a
server without STARTTLS) are not.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from contextlib import suppress
from email.message import EmailMessage
from typing import Literal

from .._errors import ConfigurationError, DeliveryError
from ._address import is_unsafe_char, mask_email
from ._mailers import require_envelope

__all__ = ["SMTPMailer", "SMTPSettings"]

_log = logging.getLogger("verifykit.delivery")

Security = Literal["starttls", "tls", "none"]
_SECURITY: tuple[Security, ...] = ("starttls", "tls", "none")
_MAX_RETRIES = 10
_MAX_REPLY_TEXT = 160
_ADDRESS_IN_TEXT = re.compile(r"[^\s<>@,;:\"()\[\]]+@[^\s<>@,;:\"()\[\]]+")


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


def _reply_text(raw: bytes | str) -> str:
    """A server reply fit for an error message: one line, short, with addresses masked."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    text = " ".join(text.split())
    text = _ADDRESS_IN_TEXT.sub(lambda match: mask_email(match.group(0)), text)
    return text if len(text) <= _MAX_REPLY_TEXT else text[: _MAX_REPLY_TEXT - 3] + "..."


def _is_temporary(code: int) -> bool:
    """RFC 5321: 4xx is transient, 5xx permanent; anything else means the exchange broke (transient)."""
    return not 500 <= code < 600


class _Attempt:
    """One SMTP conversation on its own thread; the caller may abandon it at the deadline."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._client: smtplib.SMTP | None = None
        self.error: BaseException | None = None

    def attach(self, client: smtplib.SMTP) -> None:
        with self._lock:
            self._client = client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                client.close()

    def abandon(self) -> None:
        """Wake the thread if it is blocked on the socket, so it ends now rather than at its timeout."""
        with self._lock:
            sock = self._client.sock if self._client is not None else None
            if sock is not None:
                with suppress(OSError):
                    # The plain socket's shutdown, not SSLSocket's, which would race with the reader.
                    socket.socket.shutdown(sock, socket.SHUT_RDWR)


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
        schedule = self._schedule()
        for attempt in schedule.attempts:
            try:
                self._attempt(message, schedule.budget())
                return
            except DeliveryError as exc:
                time.sleep(schedule.retry_after(attempt, exc))

    def _attempt(self, message: EmailMessage, budget: float) -> None:
        attempt = _Attempt()
        worker = threading.Thread(
            target=self._converse, args=(message, budget, attempt), name="verifykit-smtp", daemon=True
        )
        worker.start()
        worker.join(budget)
        if worker.is_alive():
            attempt.abandon()
            raise _unfinished(self._where, budget)
        if attempt.error is not None:
            raise attempt.error

    def _converse(self, message: EmailMessage, budget: float, attempt: _Attempt) -> None:
        """Runs on the attempt's thread; leaves any failure in ``attempt.error``, mapped to DeliveryError."""
        try:
            # Constructing with a host connects and reads the greeting (a non-220 one raises).
            client: smtplib.SMTP
            if self.security == "tls":
                client = smtplib.SMTP_SSL(
                    self.host, self.port, self.local_hostname, timeout=budget, context=self._context
                )
            else:
                client = smtplib.SMTP(self.host, self.port, self.local_hostname, timeout=budget)
            attempt.attach(client)
            try:
                self._exchange(client, message)
            finally:
                attempt.close()
        except DeliveryError as exc:
            attempt.error = exc
        except Exception as exc:
            described = _describe(exc, budget)
            if described is None:
                attempt.error = exc  # not a delivery failure but a bug: re-raised as it is
            else:
                attempt.error = DeliveryError(f"{self._where} {described[0]}", temporary=described[1])
                attempt.error.__cause__ = exc

    def _exchange(self, client: smtplib.SMTP, message: EmailMessage) -> None:
        client.ehlo_or_helo_if_needed()
        if self.security == "starttls":
            if not client.has_extn("starttls"):
                raise _no_starttls(self._where)
            client.starttls(context=self._context)
            client.ehlo()
        if self.username is not None and self._password is not None:
            client.login(self.username, self._password)
        refused = client.send_message(message)
        if refused:
            raise _some_refused(self._where, {rcpt: code for rcpt, (code, _) in refused.items()})
        with suppress(smtplib.SMTPException, OSError):
            client.quit()  # the message is accepted; a failed goodbye changes nothing


# How each failure reads, and whether trying again can help: one wording for both mailers.


def _recipient_refused(rcpt: str, code: int, text: bytes | str) -> tuple[str, bool]:
    return f"refused the recipient {mask_email(rcpt)}: {code} {_reply_text(text)}", _is_temporary(code)


def _login_rejected(code: int, text: bytes | str) -> tuple[str, bool]:
    return f"rejected the login: {code} {_reply_text(text)}", _is_temporary(code)


def _answered(code: int, text: bytes | str) -> tuple[str, bool]:
    return f"answered {code} {_reply_text(text)}", _is_temporary(code)


_DISCONNECTED = "closed the connection", True


def _cannot_take(text: str) -> tuple[str, bool]:
    # e.g. no AUTH, no SMTPUTF8 support: retrying cannot help
    return f"cannot take this message: {_reply_text(text)}", False


def _no_starttls(where: str) -> DeliveryError:
    # Never fall back to plain text: that is what a downgrade attacker wants.
    return DeliveryError(f"{where} does not offer STARTTLS", temporary=False)


def _some_refused(where: str, refused: Mapping[str, int]) -> DeliveryError:
    described = ", ".join(f"{mask_email(rcpt)} ({code})" for rcpt, code in refused.items())
    return DeliveryError(f"{where} refused some recipients: {described}", temporary=False)


def _unfinished(where: str, budget: float) -> DeliveryError:
    return DeliveryError(f"{where} did not finish within {budget:.1f} s", temporary=True)


def describe_transport(exc: BaseException, budget: float) -> tuple[str, bool] | None:
    """TLS and socket failures as (text, temporary); None for anything else."""
    match exc:
        case ssl.SSLCertVerificationError(verify_message=reason):
            described = f"has an untrusted TLS certificate: {reason}", False
        case ssl.SSLError(reason=reason):
            described = f"failed the TLS handshake: {reason or type(exc).__name__}", False
        case TimeoutError():
            described = f"did not answer within {budget:.1f} s", True
        case ConnectionRefusedError():
            described = "refused the connection", True
        case OSError(strerror=reason):
            described = f"could not be reached: {reason or type(exc).__name__}", True
        case _:
            return None
    return described


def _describe(exc: Exception, budget: float) -> tuple[str, bool] | None:
    """What went wrong, as (text, temporary), for smtplib, ssl and socket errors; None for anything else."""
    match exc:
        case smtplib.SMTPRecipientsRefused(recipients=recipients):
            rcpt, (code, text) = next(iter(recipients.items()))
            return _recipient_refused(rcpt, code, text)
        case smtplib.SMTPAuthenticationError(smtp_code=code, smtp_error=text):
            return _login_rejected(code, text)
        case smtplib.SMTPResponseException(smtp_code=code, smtp_error=text):
            return _answered(code, text)
        case smtplib.SMTPServerDisconnected():
            return _DISCONNECTED
        case smtplib.SMTPException():
            return _cannot_take(str(exc))
    return describe_transport(exc, budget)
