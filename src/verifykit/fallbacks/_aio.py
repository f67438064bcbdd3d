"""The fallback verifiers for asyncio (exported by :mod:`verifykit.aio`): the very flows the sync
ones run, awaited on an async store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ._assisted import AssistedFlows
from ._recovery import RecoveryCodeSet, RecoveryFlows
from ._settings import AssistedSettings, RecoverySettings, TOTPSettings
from ._shell import AsyncShell
from ._totp import TOTPEnrollment, TOTPFlows

if TYPE_CHECKING:
    from ..aio._store import AsyncChallengeStore

__all__ = ["AssistedCheck", "RecoveryCodes", "TOTPVerifier"]


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
        super().__init__(store, audit, TOTPFlows(keyring=keyring, settings=settings, ways_in=ways_in))

    async def enroll(self, subject: str, account_name: str) -> TOTPEnrollment:
        """See :meth:`verifykit.fallbacks.TOTPVerifier.enroll`."""
        return await self._run(self._flows.enroll(subject, account_name))

    async def verify(
        self, subject: str, stored: bytes, code: str, *, client: str | None = None, at: float | None = None
    ) -> Verdict:
        """See :meth:`verifykit.fallbacks.TOTPVerifier.verify`."""
        return await self._run(self._flows.verify(subject, stored, code, client=client, at=at))


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
        super().__init__(store, audit, RecoveryFlows(keyring=keyring, settings=settings, ways_in=ways_in))

    async def generate(self, subject: str) -> RecoveryCodeSet:
        """See :meth:`verifykit.fallbacks.RecoveryCodes.generate`."""
        return await self._run(self._flows.generate(subject))

    async def redeem(self, subject: str, stored: str, code: str, *, client: str | None = None) -> Verdict:
        """See :meth:`verifykit.fallbacks.RecoveryCodes.redeem`."""
        return await self._run(self._flows.redeem(subject, stored, code, client=client))


class AssistedCheck(AsyncShell[AssistedFlows]):
    """:class:`verifykit.fallbacks.AssistedCheck` for asyncio: the same arguments and results, on an
    async store (:func:`verifykit.aio.open_store`)."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: AssistedSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
    ) -> None:
        super().__init__(store, audit, AssistedFlows(keyring=keyring, settings=settings))

    async def record(
        self,
        subject: str,
        *,
        operator: str,
        evidence: str,
        approved: bool,
        document_ref_hint: str = "",
        note: str = "",
        second_operator: str | None = None,
        client: str | None = None,
    ) -> Verdict:
        """See :meth:`verifykit.fallbacks.AssistedCheck.record`."""
        return await self._run(
            self._flows.record(
                subject, operator, evidence, approved, document_ref_hint, note, second_operator, client
            )
        )
