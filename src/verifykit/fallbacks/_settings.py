"""Settings of the fallback verifiers: one frozen value each, validated once, with named presets.

Every figure here is a default a reviewer can point to; each verifier takes its settings whole.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .._errors import ConfigurationError
from ..store import LockoutPolicy, WindowPolicy

__all__ = [
    "RECOVERY_PRESETS",
    "TOTP_ALGORITHMS",
    "TOTP_PRESETS",
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


#: The HMAC hash functions RFC 6238 names.
TOTP_ALGORITHMS: tuple[str, ...] = ("sha1", "sha256", "sha512")

#: ``standard`` is the default; ``strict`` accepts only the current 30-second step (clocks in sync).
TOTP_PRESETS: Mapping[str, Mapping[str, Any]] = {"standard": {}, "strict": {"valid_window": 0}}


@dataclass(frozen=True, slots=True)
class TOTPSettings:
    """How authenticator-app codes (RFC 6238) behave.

    - ``digits=6``, ``interval=30``, ``algorithm="sha1"``: what Google Authenticator, Authy and
      others assume; ``sha256`` and ``sha512`` (RFC 6238) only for apps known to support them
      (the provisioning URI names the algorithm, but many apps ignore it and show wrong codes).
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
    algorithm: str = "sha1"
    lockout: LockoutPolicy = field(default_factory=_subject_lockout)
    client_limit: WindowPolicy | None = field(default_factory=_failed_guesses_per_client)

    def __post_init__(self) -> None:
        if self.digits not in (6, 7, 8):
            raise ConfigurationError("TOTP digits must be 6, 7 or 8")
        if not 15 <= self.interval <= 120:
            raise ConfigurationError("TOTP interval must be between 15 and 120 seconds")
        if not 0 <= self.valid_window <= 2:
            raise ConfigurationError("TOTP valid_window must be 0, 1 or 2 steps")
        if self.algorithm not in TOTP_ALGORITHMS:
            raise ConfigurationError(f"TOTP algorithm must be one of {', '.join(TOTP_ALGORITHMS)}")
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
