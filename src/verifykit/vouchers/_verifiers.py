"""``Vouchers``: redeem counter vouchers with blocking calls on a store."""

from __future__ import annotations

from .._audit import DEFAULT_AUDIT_SINK, AuditSink
from .._errors import ConfigurationError
from .._shell import SyncShell
from ..crypto import Keyring
from ..store import ChallengeStore
from ._check import Inspection
from ._flows import Redemption, VoucherFlows
from ._officers import OfficerSource
from ._settings import VoucherSettings

__all__ = ["Vouchers", "checked_parts"]


def checked_parts(
    registry: object, audit: AuditSink | None, settings: VoucherSettings | None, keyring: Keyring
) -> VoucherFlows:
    """The flows of a voucher service, once its own parts were checked (both flavours call this,
    after the shell checked the store and the keyring)."""
    if not isinstance(registry, OfficerSource):
        raise ConfigurationError("Vouchers needs registry= (a RegistryFile or an OfficerRegistry)")
    if audit is None:
        # An unlock nobody can trace is what vouchers exist to prevent: there is no opting out.
        raise ConfigurationError("Vouchers needs an audit sink (audit=None is refused)")
    return VoucherFlows(keyring=keyring, settings=settings)


class Vouchers(SyncShell[VoucherFlows]):
    """Counter vouchers: an officer who checked a person's documents signs a short-lived voucher
    (``verifykit voucher sign``); redeeming it once clears the subject's lockouts for the
    verifiers it names, on the record. The documented way back in from a hard lock.

    ``registry`` is where the officers are read from: a :class:`RegistryFile` (re-read when it
    changes) or an :class:`OfficerRegistry`. ``audit`` is required: a redemption whose record
    cannot be written does not happen.
    """

    def __init__(
        self,
        *,
        store: ChallengeStore,
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

    def redeem(self, subject: str, voucher: str, *, client: str | None = None) -> Redemption:
        """Redeem ``voucher`` (its base64url text) for ``subject``. A bad voucher is a refused
        :class:`Redemption` naming why; raises :class:`~verifykit.InvalidInput` for a malformed
        subject or client, :class:`~verifykit.AuditUnavailable` when the record could not be
        written (nothing redeemed), :class:`~verifykit.ConfigurationError` when the registry
        cannot be read."""
        return self._run(self._flows.redeem(self.registry.current(), subject, voucher, client))

    def inspect(self, voucher: str, *, subject: str | None = None) -> Inspection:
        """Check ``voucher`` now, by the store's clock, without redeeming it."""
        return self._run(self._flows.inspect(self.registry.current(), voucher, subject))
