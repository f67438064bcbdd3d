"""``verifykit.aio.Vouchers``: the very flows of :class:`verifykit.vouchers.Vouchers`, awaited on
an async store."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._shell import AsyncShell
from ..crypto import Keyring
from ._check import Inspection
from ._flows import Redemption, VoucherFlows
from ._officers import OfficerRegistry, OfficerSource
from ._settings import VoucherSettings
from ._verifiers import checked_parts

if TYPE_CHECKING:
    from ..store import AsyncChallengeStore

__all__ = ["Vouchers"]


class Vouchers(AsyncShell[VoucherFlows]):
    """:class:`verifykit.vouchers.Vouchers` for asyncio: the same arguments and results, on an
    async store (:func:`verifykit.aio.open_store`). The registry file is read off the loop."""

    def __init__(
        self,
        *,
        store: AsyncChallengeStore,
        keyring: Keyring,
        registry: OfficerSource,
        settings: VoucherSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
    ) -> None:
        super().__init__(
            "Vouchers",
            store=store,
            keyring=keyring,
            audit=audit,
            flows=lambda: checked_parts(registry, audit, settings, keyring),
        )
        self.registry = registry

    @property
    def settings(self) -> VoucherSettings:
        return self._flows.settings

    async def _officers(self) -> OfficerRegistry:
        if isinstance(self.registry, OfficerRegistry):
            return self.registry
        return await asyncio.to_thread(self.registry.current)

    async def redeem(self, subject: str, voucher: str, *, client: str | None = None) -> Redemption:
        """See :meth:`verifykit.vouchers.Vouchers.redeem`."""
        return await self._run(self._flows.redeem(await self._officers(), subject, voucher, client))

    async def inspect(self, voucher: str, *, subject: str | None = None) -> Inspection:
        """See :meth:`verifykit.vouchers.Vouchers.inspect`."""
        return await self._run(self._flows.inspect(await self._officers(), voucher, subject))
