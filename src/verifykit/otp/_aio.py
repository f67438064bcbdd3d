"""Email one-time codes for asyncio: the same flows as :class:`verifykit.otp.EmailOTP`, awaited."""

from __future__ import annotations

from concurrent.futures import Executor
from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import AsyncFlowIO, AsyncMailerLike, run_async
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ..delivery import Mailer
from ._core import OTPShell
from ._decide import Challenge
from ._settings import OTPSettings

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["EmailOTP"]


class EmailOTP(OTPShell):
    """One-time codes sent by email, for asyncio: the methods of :class:`verifykit.otp.EmailOTP`,
    with the same arguments, results and errors, as coroutines.

    ``store`` is an async store (:func:`verifykit.aio.open_store`). ``mailer`` is an async mailer
    (:class:`verifykit.aio.AsyncSMTPMailer`, anything with ``async def send``) or a sync one, which
    then runs in ``executor`` (``None``: the event loop's default executor) so it never blocks the loop.
    """

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        mailer: AsyncMailerLike | Mailer,
        settings: OTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
        executor: Executor | None = None,
    ) -> None:
        super().__init__(
            store=store, keyring=keyring, mailer=mailer, settings=settings, audit=audit, ways_in=ways_in
        )
        self.store: AsyncChallengeStore = store
        self._io = AsyncFlowIO(store=store, mailer=mailer, audit=audit, threads=executor)

    async def start(
        self, subject: str, email: str, *, locale: str | None = None, client: str | None = None
    ) -> Challenge:
        """See :meth:`verifykit.otp.EmailOTP.start`."""
        return await run_async(self._flows.start(subject, email, locale=locale, client=client), self._io)

    async def check(self, challenge_id: str, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`verifykit.otp.EmailOTP.check`."""
        return await run_async(self._flows.check(challenge_id, code, client=client), self._io)

    async def resend(self, challenge_id: str, *, client: str | None = None) -> Challenge:
        """See :meth:`verifykit.otp.EmailOTP.resend`."""
        return await run_async(self._flows.resend(challenge_id, client=client), self._io)

    async def cancel(self, challenge_id: str) -> Challenge:
        """See :meth:`verifykit.otp.EmailOTP.cancel`."""
        return await run_async(self._flows.cancel(challenge_id), self._io)

    async def status(self, challenge_id: str) -> Challenge:
        """See :meth:`verifykit.otp.EmailOTP.status`."""
        return await run_async(self._flows.status(challenge_id), self._io)
