"""Passkeys for asyncio (exported by :mod:`verifykit.aio`): the very flows the sync verifier runs,
awaited on an async store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._shell import AsyncShell
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ._credential import PasskeyCredential
from ._flows import PasskeyEnrollment, PasskeyFlows, PasskeyOptions
from ._settings import PasskeySettings

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["PasskeyVerifier"]


class PasskeyVerifier(AsyncShell[PasskeyFlows]):
    """:class:`verifykit.passkey.PasskeyVerifier` for asyncio: the same arguments and results, on
    an async store (:func:`verifykit.aio.open_store`)."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: PasskeySettings,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
    ) -> None:
        super().__init__(
            "PasskeyVerifier",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: PasskeyFlows(keyring=keyring, settings=settings, ways_in=ways_in),
        )

    @property
    def settings(self) -> PasskeySettings:
        return self._flows.settings

    async def registration_options(
        self,
        subject: str,
        *,
        user_name: str,
        display_name: str,
        exclude: Sequence[str] = (),
        client: str | None = None,
    ) -> PasskeyOptions:
        """See :meth:`verifykit.passkey.PasskeyVerifier.registration_options`."""
        return await self._run(
            self._flows.registration_options(
                subject, user_name=user_name, display_name=display_name, exclude=exclude, client=client
            )
        )

    async def register(
        self, subject: str, challenge_id: str, response_json: str, *, client: str | None = None
    ) -> PasskeyEnrollment:
        """See :meth:`verifykit.passkey.PasskeyVerifier.register`."""
        return await self._run(self._flows.register(subject, challenge_id, response_json, client=client))

    async def authentication_options(
        self, subject: str, *, credentials: Sequence[str] = (), client: str | None = None
    ) -> PasskeyOptions:
        """See :meth:`verifykit.passkey.PasskeyVerifier.authentication_options`."""
        return await self._run(
            self._flows.authentication_options(subject, credentials=credentials, client=client)
        )

    async def verify(
        self,
        subject: str,
        challenge_id: str,
        response_json: str,
        *,
        credentials: Sequence[str],
        client: str | None = None,
    ) -> Verdict:
        """See :meth:`verifykit.passkey.PasskeyVerifier.verify`."""
        return await self._run(
            self._flows.verify(subject, challenge_id, response_json, credentials=credentials, client=client)
        )

    def credential(self, subject: str, stored: str) -> PasskeyCredential:
        """See :meth:`verifykit.passkey.PasskeyVerifier.credential` (no store call, so not a coroutine)."""
        return self._flows.credential(subject, stored)
