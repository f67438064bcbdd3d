"""Delivery for asyncio: :class:`AsyncSMTPMailer` on asyncio's streams, and :class:`AsyncFallbackMailer`.

They keep the sync mailers' promises: the same settings and :attr:`~SMTPSettings.deadline`, the same
retry policy, the very conversation with the server (:mod:`._conversation`, written once, free of
I/O) with the same wording and temporary/permanent split of every failure, and the same combined
error when both routes of a fallback fail. Only the answering of the conversation's steps is
awaited; a deadline is an :func:`asyncio.timeout`, not a thread.
"""

from __future__ import annotations

import asyncio
import inspect
from contextlib import suppress
from email.message import EmailMessage
from typing import Protocol, runtime_checkable

from .._errors import DeliveryError, InvalidInput
from ._conversation import (
    GOODBYE_WAIT,
    Command,
    Envelope,
    Goodbye,
    Open,
    Reply,
    ReplyError,
    ReplyReader,
    ServerClosed,
    StartTLS,
    Step,
    failure,
)
from ._mailers import Mailer, both_failed, primary_failed, require_envelope
from ._smtp import SMTPSettings

__all__ = ["AsyncFallbackMailer", "AsyncMailer", "AsyncSMTPMailer"]

_READ_SIZE = 65536


@runtime_checkable
class AsyncMailer(Protocol):
    """Anything that can hand an email on without blocking the loop: ``async def send(message)``,
    returning once the message is accepted and raising :class:`~verifykit.DeliveryError` otherwise."""

    async def send(self, message: EmailMessage) -> None: ...


class AsyncSMTPMailer(SMTPSettings):
    """:class:`~verifykit.delivery.SMTPMailer` for asyncio: the same arguments, deadline, retries,
    conversation and errors; ``await send(message)``. Speaks on asyncio's own streams."""

    async def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` or raise :class:`~verifykit.DeliveryError` within :attr:`deadline`."""
        require_envelope(message)
        envelope = Envelope.of(message)
        schedule = self._schedule()
        for attempt in schedule.attempts:
            try:
                await self._attempt(envelope, schedule.budget())
                return
            except DeliveryError as exc:
                await asyncio.sleep(schedule.retry_after(attempt, exc))

    async def _attempt(self, envelope: Envelope, budget: float) -> None:
        link = _Streams(self)
        talk = self._conversation(envelope)
        end = asyncio.get_running_loop().time() + budget
        try:
            async with asyncio.timeout_at(end):
                step = next(talk)
                while not isinstance(step, Goodbye):
                    step = talk.send(await link.answer(step))
            # Out of the attempt's timeout: the message is taken, a slow goodbye cannot undo that.
            await link.goodbye(step, end)
        except Exception as exc:
            error = failure(exc, self._where, budget)
            if error is None or error is exc:
                raise
            raise error from exc
        finally:
            talk.close()
            link.close()


class _Streams:
    """One connection answering a conversation's steps on asyncio streams."""

    def __init__(self, mailer: AsyncSMTPMailer) -> None:
        self._mailer = mailer
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._replies = ReplyReader()

    async def answer(self, step: Step) -> Reply | None:
        mailer = self._mailer
        match step:
            case Open(tls=tls):
                self._reader, self._writer = await asyncio.open_connection(
                    mailer.host,
                    mailer.port,
                    ssl=mailer._context if tls else None,
                    server_hostname=mailer.host if tls else None,
                )
                return await self._reply()
            case Command(data=data):
                await self._send(data)
                return await self._reply()
            case StartTLS():
                self._replies.before_tls()
                await self._open()[1].start_tls(mailer._context, server_hostname=mailer.host)
                return None
        raise TypeError(f"{step!r} is not a step this link answers")

    async def goodbye(self, step: Goodbye, end: float) -> None:
        end = min(end, asyncio.get_running_loop().time() + GOODBYE_WAIT)
        with suppress(OSError, ServerClosed, ReplyError):  # TimeoutError included
            async with asyncio.timeout_at(end):
                await self._send(step.data)
                await self._reply()

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.close()

    def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None:
            raise ServerClosed
        return self._reader, self._writer

    async def _send(self, data: bytes) -> None:
        writer = self._open()[1]
        writer.write(data)
        await writer.drain()

    async def _reply(self) -> Reply:
        reader = self._open()[0]
        while (reply := self._replies.next_reply()) is None:
            data = await reader.read(_READ_SIZE)
            if not data:
                raise ServerClosed
            self._replies.feed(data)
        return reply


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
