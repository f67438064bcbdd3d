"""TOTP settings: the defaults authenticator apps expect, and a lockout NIST accepts."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import ConfigurationError
from ..store import LockoutPolicy

__all__ = ["TOTPSettings"]


@dataclass(frozen=True, slots=True)
class TOTPSettings:
    """How authenticator-app codes (RFC 6238) behave. Validated once, here.

    - ``digits=6``, ``interval=30``: what Google Authenticator, Authy and others assume (SHA-1).
    - ``valid_window=1``: the previous and next 30-second step are accepted too, for clock
      drift and slow typing; each accepted step raises a guess's odds, so at most 2.
    - ``lockout``: from the 10th consecutive failure the subject waits 60 s, doubling up to an
      hour; 100 consecutive failures lock it until another way in succeeds (NIST SP 800-63B).
    """

    digits: int = 6
    interval: int = 30
    valid_window: int = 1
    lockout: LockoutPolicy = field(
        default_factory=lambda: LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)
    )

    def __post_init__(self) -> None:
        if self.digits not in (6, 7, 8):
            raise ConfigurationError("TOTP digits must be 6, 7 or 8")
        if not 15 <= self.interval <= 120:
            raise ConfigurationError("TOTP interval must be between 15 and 120 seconds")
        if not 0 <= self.valid_window <= 2:
            raise ConfigurationError("TOTP valid_window must be 0, 1 or 2 steps")
