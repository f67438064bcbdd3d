"""The fallback verifiers for asyncio (exported by :mod:`verifykit.aio`): the very flows the sync
ones run, awaited on an async store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._shell import AsyncShell
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ._recovery import RecoveryCodeSet, RecoveryFlows, count_left
from ._settings import RecoverySettings, TOTPSettings
from ._totp import TOTPEnrollment, TOTPFlows

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["RecoveryCodes", "TOTPVerifier"]


class TOTPVerifier(AsyncShell[TOTPFlows]):
    """:class:`verifykit.fallbacks.TOTPVerifier` for asyncio: the same arguments and results, on an
    async store (:func:`verifykit.aio.open_store`)."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: TOTPSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "TOTPVerifier",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: TOTPFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    async def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """See :meth:`verifykit.fallbacks.TOTPVerifier.enroll`."""
        return await self._run(self._flows.enroll(subject, account_name))

    async def verify(
        self, subject: str, stored: bytes, code: str, *, client: str | None = None, at: float | None = None
    ) -> Verdict:
        """See :meth:`verifykit.fallbacks.TOTPVerifier.verify`."""
        return await self._run(self._flows.verify(subject, stored, code, client=client, at=at))

    async def remove(self, subject: str, stored: bytes) -> None:
        """See :meth:`verifykit.fallbacks.TOTPVerifier.remove`."""
        await self._run(self._flows.remove(subject, stored))


class RecoveryCodes(AsyncShell[RecoveryFlows]):
    """:class:`verifykit.fallbacks.RecoveryCodes` for asyncio: the same arguments and results, on an
    async store (:func:`verifykit.aio.open_store`)."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: RecoverySettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "RecoveryCodes",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: RecoveryFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    async def generate(self, subject: str) -> RecoveryCodeSet:
        """See :meth:`verifykit.fallbacks.RecoveryCodes.generate`."""
        return await self._run(self._flows.generate(subject))

    async def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`verifykit.fallbacks.RecoveryCodes.redeem`."""
        return await self._run(self._flows.redeem(subject, stored, code, client=client))

    def count(self, stored: str) -> int:
        """See :meth:`verifykit.fallbacks.RecoveryCodes.count` (no store call, so not a coroutine)."""
        return count_left(stored)
