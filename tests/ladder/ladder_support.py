"""Building the ladder and the verifiers whose failures it reads, for the tests of this package."""

from __future__ import annotations

import inspect
from typing import Any

import pyotp

from flavours import Flavour
from verifykit import Keyring, aio
from verifykit.fallbacks import RecoveryCodes, RecoverySettings, TOTPSettings, TOTPVerifier
from verifykit.ladder import Ladder
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.password import PasswordSettings, PasswordVerifier
from verifykit.store import LockoutPolicy
from verifykit.testing import Outbox

__all__ = ["SUBJECT", "T0", "Tour", "policy", "right_totp", "wrong_totp"]

SUBJECT = "user-1"
T0 = 1_700_000_000.0


def policy(threshold: int, *, hard_cap: int = 100) -> LockoutPolicy:
    """A lockout that waits a minute from ``threshold`` failures and locks for good at ``hard_cap``."""
    return LockoutPolicy(threshold=threshold, lockout=60, lockout_max=60, hard_cap=hard_cap)


def right_totp(secret: str, at: float) -> str:
    return str(pyotp.TOTP(secret).at(at))


def wrong_totp(secret: str, at: float) -> str:
    """A six-digit code that no step in the accepted window has at ``at``."""
    app = pyotp.TOTP(secret)
    window = {app.at(at + step * 30) for step in (-1, 0, 1)}
    return next(code for code in (f"{n:06d}" for n in range(1000)) if code not in window)


def _lockout(lockout: LockoutPolicy | None) -> dict[str, LockoutPolicy]:
    """Settings fields: the given lockout, else each verifier's default."""
    return {"lockout": lockout} if lockout else {}


class Tour:
    """The ladder and every verifier of the test's flavour on one store; keywords are settings."""

    def __init__(self, flavour: Flavour, store: Any, keyring: Keyring) -> None:
        self.flavour = flavour
        self.store = store
        self.keyring = keyring
        self.outbox = Outbox()

    def _answer(self, value: Any) -> Any:
        """A store call's answer, awaited on the flavour's loop when the store is async."""
        return self.flavour.loop.run(value) if inspect.isawaitable(value) else value

    def store_now(self) -> float:
        now: float = self._answer(self.store.now())
        return now

    def reset_failures(self, key: str) -> None:
        self._answer(self.store.reset_failures(key))

    def ladder(self) -> Ladder:
        return self.flavour.build(Ladder, aio.Ladder, store=self.store, keyring=self.keyring)

    def totp(self, lockout: LockoutPolicy | None = None) -> TOTPVerifier:
        settings = TOTPSettings(client_limit=None, **_lockout(lockout))
        return self.flavour.build(
            TOTPVerifier,
            aio.TOTPVerifier,
            store=self.store,
            keyring=self.keyring,
            settings=settings,
            audit=None,
        )

    def recovery(self, lockout: LockoutPolicy | None = None) -> RecoveryCodes:
        settings = RecoverySettings(client_limit=None, **_lockout(lockout))
        return self.flavour.build(
            RecoveryCodes,
            aio.RecoveryCodes,
            store=self.store,
            keyring=self.keyring,
            settings=settings,
            audit=None,
        )

    def email_otp(self, lockout: LockoutPolicy | None = None) -> EmailOTP:
        settings = OTPSettings(**_lockout(lockout))
        return self.flavour.build(
            EmailOTP,
            aio.EmailOTP,
            store=self.store,
            keyring=self.keyring,
            mailer=self.outbox,
            settings=settings,
            audit=None,
        )

    def password(self, lockout: LockoutPolicy | None = None) -> PasswordVerifier:
        settings = PasswordSettings(preset="cheap_tests_only", client_limit=None, **_lockout(lockout))
        return self.flavour.build(
            PasswordVerifier,
            aio.PasswordVerifier,
            store=self.store,
            keyring=self.keyring,
            settings=settings,
            audit=None,
        )
