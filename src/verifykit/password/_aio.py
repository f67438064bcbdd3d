"""The asyncio ``PasswordVerifier``: the rules of :mod:`verifykit.password._core`, awaited.

argon2 releases the GIL, so its work runs in threads (``threads``, default the loop's executor)
while the event loop keeps serving other requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Executor
from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._flow import AsyncFlowIO, run_async
from .._verdict import Verdict, WaysIn
from ..crypto import Keyring
from ._core import PasswordShell
from ._settings import PasswordSettings

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["PasswordVerifier"]


class PasswordVerifier(PasswordShell):
    """:class:`verifykit.password.PasswordVerifier` for asyncio: the same arguments and results,
    on an async store (:func:`verifykit.aio.open_store`); ``threads`` runs the argon2 work."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        settings: PasswordSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        ways_in: WaysIn | None = None,
        threads: Executor | None = None,
    ) -> None:
        super().__init__(store=store, keyring=keyring, settings=settings, audit=audit, ways_in=ways_in)
        self._aio = AsyncFlowIO(store=store, audit=audit, budget=self.budget, threads=threads)

    async def hash(self, password: str, *, subject: str | None = None, context: Sequence[str] = ()) -> str:
        """See :meth:`verifykit.password.PasswordVerifier.hash`."""
        return await run_async(self._flows.hash(password, subject=subject, context=context), self._aio)

    async def verify(
        self, subject: str, stored_hash: str | None, password: str, *, client: str | None = None
    ) -> Verdict:
        """See :meth:`verifykit.password.PasswordVerifier.verify`."""
        return await run_async(self._flows.verify(subject, stored_hash, password, client=client), self._aio)
