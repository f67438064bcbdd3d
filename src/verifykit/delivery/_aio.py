"""Delivery for asyncio: :class:`AsyncSMTPMailer` on aiosmtplib, and :class:`AsyncFallbackMailer`.

They keep the sync mailers' promises: the same settings and :attr:`~SMTPSettings.deadline`, the same
retry policy, the same wording and temporary/permanent split of every failure (all shared with
:mod:`._smtp`), and the same combined error when both routes of a fallback fail. Only the
conversation with the server is awaited; a deadline is an :func:`asyncio.timeout`, not a thread.
"""

from __future__ import annotations

import asyncio
import inspect
from contextlib import suppress
from email.message import EmailMessage
from types import ModuleType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .._errors import ConfigurationError, DeliveryError, InvalidInput
from ._mailers import Mailer, both_failed, primary_failed, require_envelope
from ._smtp import (
    _DISCONNECTED,
    SMTPSettings,
    _answered,
    _cannot_take,
    _login_rejected,
    _no_starttls,
    _recipient_refused,
    _some_refused,
    _unfinished,
    describe_transport,
)

if TYPE_CHECKING:
    import aiosmtplib

__all__ = ["AsyncFallbackMailer", "AsyncMailer", "AsyncSMTPMailer"]


@runtime_checkable
class AsyncMailer(Protocol):
    """Anything that can hand an email on without blocking the loop: ``async def send(message)``,
    returning once the message is accepted and raising :class:`~verifykit.DeliveryError` otherwise."""

    async def send(self, message: EmailMessage) -> None: ...


def _driver() -> ModuleType:
    try:
        import aiosmtplib
    except ImportError as exc:
        raise ConfigurationError(
            "the asyncio SMTP mailer needs aiosmtplib: pip install 'verifykit[aio]'"
        ) from exc
    return aiosmtplib


def _describe(smtp: Any, exc: Exception, budget: float) -> tuple[str, bool] | None:
    """aiosmtplib's errors in the words :mod:`._smtp` uses for smtplib's; None for anything else."""
    described: tuple[str, bool] | None
    match exc:
        case smtp.SMTPRecipientsRefused(recipients=[first, *_]):
            described = _recipient_refused(first.recipient, first.code, first.message)
        case smtp.SMTPRecipientRefused(code=code, message=text, recipient=rcpt):
            described = _recipient_refused(rcpt, code, text)
        case smtp.SMTPAuthenticationError(code=code, message=text):
            described = _login_rejected(code, text)
        case smtp.SMTPResponseException(code=code, message=text):
            described = _answered(code, text)
        case smtp.SMTPServerDisconnected():
            described = _DISCONNECTED
        case smtp.SMTPConnectError() if isinstance(exc.__cause__, OSError):
            described = describe_transport(exc.__cause__, budget)  # the socket or TLS error behind it
        case smtp.SMTPTimeoutError():
            described = describe_transport(TimeoutError(), budget)
        case smtp.SMTPException(message=text):
            described = _cannot_take(text)
        case _:
            described = describe_transport(exc, budget)
    return described


class AsyncSMTPMailer(SMTPSettings):
    """:class:`~verifykit.delivery.SMTPMailer` for asyncio: the same arguments, deadline, retries
    and errors; ``await send(message)``. Needs the ``aio`` extra (aiosmtplib)."""

    def __init__(self, host: str = "localhost", port: int = 587, **settings: Any) -> None:
        self._smtp = _driver()
        super().__init__(host, port, **settings)

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`~verifykit.DeliveryError` within :attr:`deadline`."""
        require_envelope(message)
        schedule = self._schedule()
        for attempt in schedule.attempts:
            try:
                await self._attempt(message, schedule.budget())
                return
            except DeliveryError as exc:
                await asyncio.sleep(schedule.retry_after(attempt, exc))

    async def _attempt(self, message: EmailMessage, budget: float) -> None:
        client: aiosmtplib.SMTP = self._smtp.SMTP(
            hostname=self.host,
            port=self.port,
            local_hostname=self.local_hostname,
            timeout=budget,
            use_tls=self.security == "tls",
            start_tls=False,
            tls_context=self._context if self.security != "none" else None,
        )
        try:
            async with asyncio.timeout(budget):
                await self._converse(client, message)
        except DeliveryError:
            raise
        except TimeoutError as exc:
            raise _unfinished(self._where, budget) from exc
        except Exception as exc:
            described = _describe(self._smtp, exc, budget)
            if described is None:
                raise  # not a delivery failure but a bug
            raise DeliveryError(f"{self._where} {described[0]}", temporary=described[1]) from exc
        finally:
            client.close()

    async def _converse(self, client: aiosmtplib.SMTP, message: EmailMessage) -> None:
        await client.connect()
        await client.ehlo()
        if self.security == "starttls":
            if not client.supports_extension("starttls"):
                raise _no_starttls(self._where)
            await client.starttls(tls_context=self._context)
            await client.ehlo()
        if self.username is not None and self._password is not None:
            await client.login(self.username, self._password)
        refused, _reply = await client.send_message(message)
        if refused:
            raise _some_refused(self._where, {rcpt: reply.code for rcpt, reply in refused.items()})
        with suppress(self._smtp.SMTPException, OSError):
            await client.quit()  # the message is accepted; a failed goodbye changes nothing


async def _send_with(mailer: AsyncMailer | Mailer, message: EmailMessage) -> None:
    """Await an async mailer; run a sync one in a thread, as the flow driver does."""
    if inspect.iscoroutinefunction(mailer.send):
        await mailer.send(message)
    else:
        await asyncio.to_thread(mailer.send, message)


class AsyncFallbackMailer:
    """:class:`~verifykit.delivery.FallbackMailer` for asyncio: tries ``primary``, then ``fallback``.

    Either may be async or sync (a sync one runs in a thread). The error when both fail names
    both reasons and is temporary if either was.
    """

    def __init__(self, primary: AsyncMailer | Mailer, fallback: AsyncMailer | Mailer) -> None:
        for role, mailer in (("primary", primary), ("fallback", fallback)):
            if not callable(getattr(mailer, "send", None)):
                raise InvalidInput(f"{role} must be a mailer (an object with send(message))", field=role)
        self.primary = primary
        self.fallback = fallback

    async def send(self, message: EmailMessage) -> None:
        try:
            await _send_with(self.primary, message)
        except DeliveryError as first:
            primary_failed(first)
            try:
                await _send_with(self.fallback, message)
            except DeliveryError as second:
                raise both_failed(first, second) from second
