"""The ladder with blocking calls; :class:`verifykit.aio.Ladder` is the same with ``async def``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .._shell import AsyncShell, SyncShell
from .._verdict import Way
from ..crypto import Keyring
from ..store import ChallengeStore
from ._decide import LadderFlows, Offer
from ._levels import AAL

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["AsyncLadder", "Ladder"]


class Ladder(SyncShell[LadderFlows]):
    """Which ways in a subject has now, in order, and why not the others: one call.

    Give it the store and keyring the verifiers use, so it reads the same failure counts.
    verifykit keeps no user database: the caller says which ways the subject has enrolled.
    """

    def __init__(self, *, store: ChallengeStore, keyring: Keyring) -> None:
        super().__init__(
            "Ladder", store=store, keyring=keyring, audit=None, flows=lambda: LadderFlows(keyring=keyring)
        )

    def ways_in(
        self,
        subject: str,
        enrolled: Iterable[Way | str],
        *,
        delivery: str | None = None,
        level: AAL | int | str | None = None,
        passkey_level: AAL | int | str | None = None,
    ) -> Offer:
        """The open ways in for ``subject`` (and combinations reaching ``level``, when asked).

        ``enrolled``: the ways the subject has (:class:`Way` or its value); a counter voucher
        needs none. ``delivery``: how the last email went (``"failed"`` closes the email code).
        ``level``: an :class:`AAL` the caller needs; ``None`` offers every way in.
        ``passkey_level``: what the subject's passkey reaches, :func:`verifykit.passkey.assurance`
        of its credential (AAL2 when ``None``; AAL3 for a device-bound one with trusted
        attestation). Reads only.
        """
        return self._run(
            self._flows.ways_in(
                subject, enrolled, delivery=delivery, level=level, passkey_level=passkey_level
            )
        )


class AsyncLadder(AsyncShell[LadderFlows]):
    """:class:`Ladder` for asyncio (exported as :class:`verifykit.aio.Ladder`), on an async store."""

    def __init__(self, *, store: AsyncChallengeStore, keyring: Keyring) -> None:
        super().__init__(
            "Ladder", store=store, keyring=keyring, audit=None, flows=lambda: LadderFlows(keyring=keyring)
        )

    async def ways_in(
        self,
        subject: str,
        enrolled: Iterable[Way | str],
        *,
        delivery: str | None = None,
        level: AAL | int | str | None = None,
        passkey_level: AAL | int | str | None = None,
    ) -> Offer:
        """See :meth:`Ladder.ways_in`."""
        return await self._run(
            self._flows.ways_in(
                subject, enrolled, delivery=delivery, level=level, passkey_level=passkey_level
            )
        )
