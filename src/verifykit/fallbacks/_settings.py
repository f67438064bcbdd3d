"""Settings of the fallback verifiers: one frozen value each, validated once, with named presets.

Every figure here is a default a reviewer can point to; each verifier takes its settings whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._errors import ConfigurationError
from .._verdict import VerifierId
from ..store import LockoutPolicy, WindowPolicy

__all__ = [
    "ASSISTED_PRESETS",
    "DEFAULT_UNLOCKS",
    "RECOVERY_PRESETS",
    "TOTP_PRESETS",
    "AssistedSettings",
    "RecoverySettings",
    "TOTPSettings",
]

_MAX_CODES = 100
_MAX_ISSUER = 256


def _subject_lockout() -> LockoutPolicy:
    """From the 10th consecutive failure the subject waits 60 s, doubling up to an hour; 100
    consecutive failures lock it until another way in succeeds (NIST SP 800-63B section 5.2.2)."""
    return LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)


def _failed_guesses_per_client() -> WindowPolicy:
    """100 failed guesses per client address per 10 minutes, across subjects (a spray from one
    address); generous, because many people can share one address."""
    return WindowPolicy(limit=100, window=600)


S = TypeVar("S")


def _preset(cls: type[S], presets: Mapping[str, Mapping[str, Any]], name: str, overrides: Any) -> S:
    try:
        chosen = presets[name]
    except KeyError:
        raise ConfigurationError(f"unknown preset {name!r}; choose from {sorted(presets)}") from None
    return cls(**{**chosen, **overrides})


#: ``standard`` is the default; ``strict`` accepts only the current 30-second step (clocks in sync).
TOTP_PRESETS: Mapping[str, Mapping[str, Any]] = {"standard": {}, "strict": {"valid_window": 0}}


@dataclass(frozen=True, slots=True)
class TOTPSettings:
    """How authenticator-app codes (RFC 6238) behave.

    - ``digits=6``, ``interval=30``: what Google Authenticator, Authy and others assume (SHA-1).
    - ``valid_window=1``: the previous and next 30-second step are accepted too, for clock
      drift and slow typing; each accepted step raises a guess's odds, so at most 2.
    - ``issuer="verifykit"``: the name the authenticator app shows next to the account.
    - ``lockout``: per subject, from the 10th consecutive failure a wait of 60 s, doubling up to
      an hour; 100 consecutive failures lock it until another way in succeeds (NIST SP 800-63B).
    - ``client_limit``: per client address, 100 failed verifies per 10 minutes across subjects
      (``None``: no limit). An approval or a locked-out refusal gives its charge back.

    ``TOTPSettings.preset("strict")`` picks a named preset (:data:`TOTP_PRESETS`).
    """

    digits: int = 6
    interval: int = 30
    valid_window: int = 1
    issuer: str = "verifykit"
    lockout: LockoutPolicy = field(default_factory=_subject_lockout)
    client_limit: WindowPolicy | None = field(default_factory=_failed_guesses_per_client)

    def __post_init__(self) -> None:
        if self.digits not in (6, 7, 8):
            raise ConfigurationError("TOTP digits must be 6, 7 or 8")
        if not 15 <= self.interval <= 120:
            raise ConfigurationError("TOTP interval must be between 15 and 120 seconds")
        if not 0 <= self.valid_window <= 2:
            raise ConfigurationError("TOTP valid_window must be 0, 1 or 2 steps")
        issuer = self.issuer
        if not isinstance(issuer, str) or not issuer.strip() or len(issuer) > _MAX_ISSUER:
            raise ConfigurationError(f"TOTP issuer must be 1-{_MAX_ISSUER} characters")
        if any(unicodedata.category(ch).startswith("C") for ch in issuer):
            raise ConfigurationError("TOTP issuer must not contain control characters")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> TOTPSettings:
        """The named preset from :data:`TOTP_PRESETS`, with any field overridden."""
        return _preset(cls, TOTP_PRESETS, name, overrides)


#: ``standard``: 10 codes (as most services print); ``wallet``: 5, to fit a card in a wallet.
RECOVERY_PRESETS: Mapping[str, Mapping[str, Any]] = {"standard": {}, "wallet": {"count": 5}}


@dataclass(frozen=True, slots=True)
class RecoverySettings:
    """How recovery codes behave.

    - ``count=10``: codes per set (1-100); each is 60 bits, so guessing is hopeless anyway.
    - ``lockout``: per subject, as for TOTP: from the 10th consecutive failure a wait of 60 s,
      doubling up to an hour; 100 consecutive failures lock it (NIST SP 800-63B).
    - ``client_limit``: per client address, 100 failed redemptions per 10 minutes across
      subjects (``None``: no limit). An approval or a locked-out refusal gives its charge back.

    ``RecoverySettings.preset("wallet")`` picks a named preset (:data:`RECOVERY_PRESETS`).
    """

    count: int = 10
    lockout: LockoutPolicy = field(default_factory=_subject_lockout)
    client_limit: WindowPolicy | None = field(default_factory=_failed_guesses_per_client)

    def __post_init__(self) -> None:
        if not 1 <= self.count <= _MAX_CODES:
            raise ConfigurationError(f"count must be between 1 and {_MAX_CODES}")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> RecoverySettings:
        """The named preset from :data:`RECOVERY_PRESETS`, with any field overridden."""
        return _preset(cls, RECOVERY_PRESETS, name, overrides)


#: What an assisted approval unlocks by default: every verifier that keeps a lockout.
DEFAULT_UNLOCKS: tuple[VerifierId, ...] = (
    VerifierId.OTP,
    VerifierId.PASSWORD,
    VerifierId.FACE,
    VerifierId.TOTP,
    VerifierId.RECOVERY,
)

#: ``single_operator`` is the default; ``four_eyes`` needs a second, different operator to approve.
ASSISTED_PRESETS: Mapping[str, Mapping[str, Any]] = {
    "single_operator": {},
    "four_eyes": {"require_second_operator": True},
}


def _records_per_client() -> WindowPolicy:
    """100 decisions per client address (an operator's desk) per hour: far above what a person at
    a counter records, far below what a script with a stolen session could unlock."""
    return WindowPolicy(limit=100, window=3600)


@dataclass(frozen=True, slots=True)
class AssistedSettings:
    """How the assisted check behaves.

    - ``unlocks``: the verifiers whose lockouts an approval clears (default: all of them,
      :data:`DEFAULT_UNLOCKS`); names are :class:`~verifykit.VerifierId` values.
    - ``require_second_operator=False``: with ``True`` an approval needs a second, different
      operator (four eyes); one operator may still refuse.
    - ``client_limit``: per client address, 100 recorded decisions per hour (``None``: no
      limit); every decision counts.

    ``AssistedSettings.preset("four_eyes")`` picks a named preset (:data:`ASSISTED_PRESETS`).
    """

    unlocks: tuple[VerifierId, ...] = DEFAULT_UNLOCKS
    require_second_operator: bool = False
    client_limit: WindowPolicy | None = field(default_factory=_records_per_client)

    def __post_init__(self) -> None:
        unlocks = self.unlocks
        if isinstance(unlocks, str) or not isinstance(unlocks, tuple | list):
            raise ConfigurationError("unlocks is a tuple of VerifierId values such as VerifierId.OTP")
        try:
            ids = tuple(dict.fromkeys(VerifierId(v) for v in unlocks))
        except ValueError:
            raise ConfigurationError(
                f"unlocks names verifiers: {', '.join(v.value for v in VerifierId)}"
            ) from None
        object.__setattr__(self, "unlocks", ids)
        if not isinstance(self.require_second_operator, bool):
            raise ConfigurationError("require_second_operator must be True or False")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> AssistedSettings:
        """The named preset from :data:`ASSISTED_PRESETS`, with any field overridden."""
        return _preset(cls, ASSISTED_PRESETS, name, overrides)
