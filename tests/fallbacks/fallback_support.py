"""Building the fallback verifiers of one flavour, for the tests of this package."""

from __future__ import annotations

from typing import Any

from flavours import Flavour
from verifykit import AuditEvent, Keyring, aio
from verifykit.fallbacks import (
    RecoveryCodes,
    RecoverySettings,
    TOTPSettings,
    TOTPVerifier,
)
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.testing import Outbox

__all__ = ["Build"]

_EVENTS: Any = object()  # "audit to the test's events"


class Build:
    """Verifiers of the test's flavour on one store of each backend, auditing to ``events``
    unless told otherwise; other keywords are fields of the settings."""

    def __init__(self, flavour: Flavour, store: Any, keyring: Keyring, events: list[AuditEvent]) -> None:
        self.flavour = flavour
        self.store = store
        self.keyring = keyring
        self._events = events

    def _audit(self, audit: Any) -> Any:
        return self._events.append if audit is _EVENTS else audit

    def totp(
        self, *, audit: Any = _EVENTS, settings: TOTPSettings | None = None, **fields: Any
    ) -> TOTPVerifier:
        return self.flavour.build(
            TOTPVerifier,
            aio.TOTPVerifier,
            store=self.store,
            keyring=self.keyring,
            settings=settings or TOTPSettings(**fields),
            audit=self._audit(audit),
        )

    def recovery(
        self,
        *,
        keyring: Keyring | None = None,
        audit: Any = _EVENTS,
        settings: RecoverySettings | None = None,
        **fields: Any,
    ) -> RecoveryCodes:
        return self.flavour.build(
            RecoveryCodes,
            aio.RecoveryCodes,
            store=self.store,
            keyring=keyring or self.keyring,
            settings=settings or RecoverySettings(**fields),
            audit=self._audit(audit),
        )

    def email_otp(self, outbox: Outbox, settings: OTPSettings) -> EmailOTP:
        return self.flavour.build(
            EmailOTP,
            aio.EmailOTP,
            store=self.store,
            keyring=self.keyring,
            mailer=outbox,
            settings=settings,
            audit=None,
        )

    def now(self) -> float:
        """The store's clock."""
        if self.flavour.is_async:
            return float(self.flavour.loop.run(self.store.now()))
        return float(self.store.now())
