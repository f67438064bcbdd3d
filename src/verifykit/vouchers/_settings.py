"""How counter vouchers are accepted: one frozen value, validated once, with named presets."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import ConfigurationError
from .._verdict import Way, way_named
from ..store import WindowPolicy

__all__ = ["DEFAULT_UNLOCKS", "MAX_CLOCK_SKEW", "MAX_VOUCHER_TTL", "VOUCHER_PRESETS", "VoucherSettings"]

#: The longest a voucher may live, issue to expiry: 15 minutes. A voucher is issued while the
#: person stands at the counter and redeemed moments later; anything longer is a bearer token.
MAX_VOUCHER_TTL = 900.0

#: The most a counter's clock may run ahead of the store's before its vouchers are refused.
MAX_CLOCK_SKEW = 300.0

#: What a voucher may unlock by default: every way in that keeps a lockout.
DEFAULT_UNLOCKS: tuple[Way, ...] = (
    Way.EMAIL_CODE,
    Way.PASSWORD,
    Way.PASSKEY,
    Way.FACE,
    Way.AUTHENTICATOR_APP,
    Way.RECOVERY_CODE,
)

#: ``standard``: one officer's signature; ``four_eyes``: two officers, each with their own key.
VOUCHER_PRESETS: Mapping[str, Mapping[str, Any]] = {"standard": {}, "four_eyes": {"four_eyes": True}}


def _redemptions_per_client() -> WindowPolicy:
    """100 redemptions per client address (a counter's desk) per hour: far above what a counter
    serves, far below what a script replaying captured vouchers would try."""
    return WindowPolicy(limit=100, window=3600)


@dataclass(frozen=True, slots=True)
class VoucherSettings:
    """How a service accepts counter vouchers.

    - ``max_ttl=900``: the longest lifetime (issue to expiry, seconds) a voucher may declare;
      at most :data:`MAX_VOUCHER_TTL` (15 minutes). A longer one is refused ``ttl_too_long``.
    - ``clock_skew=60``: how far a counter's clock may run ahead of the store's (a voucher
      "issued" later than that is refused ``not_yet_valid``); expiry is judged strictly.
    - ``four_eyes=False``: with ``True`` a voucher needs two signatures by two different
      registered, active officers (different keys; names are never compared).
    - ``unlockable``: the verifiers a voucher may name (default :data:`DEFAULT_UNLOCKS`); a
      voucher naming any other is refused ``not_unlockable``.
    - ``client_limit``: per client address, 100 redemptions per hour (``None``: no limit).

    ``VoucherSettings.preset("four_eyes")`` picks a named preset (:data:`VOUCHER_PRESETS`).
    """

    max_ttl: float = MAX_VOUCHER_TTL
    clock_skew: float = 60.0
    four_eyes: bool = False
    unlockable: tuple[Way, ...] = DEFAULT_UNLOCKS
    client_limit: WindowPolicy | None = field(default_factory=_redemptions_per_client)

    def __post_init__(self) -> None:
        if not (isinstance(self.max_ttl, int | float) and 0 < self.max_ttl <= MAX_VOUCHER_TTL):
            raise ConfigurationError(f"max_ttl must be between 0 and {MAX_VOUCHER_TTL:.0f} seconds")
        skew = self.clock_skew
        if not (isinstance(skew, int | float) and math.isfinite(skew) and 0 <= skew <= MAX_CLOCK_SKEW):
            raise ConfigurationError(f"clock_skew must be between 0 and {MAX_CLOCK_SKEW:.0f} seconds")
        if not isinstance(self.four_eyes, bool):
            raise ConfigurationError("four_eyes must be True or False")
        unlockable = self.unlockable
        if isinstance(unlockable, str) or not isinstance(unlockable, tuple | list):
            raise ConfigurationError("unlockable is a tuple of Way values such as Way.EMAIL_CODE")
        ways = [way_named(v) if isinstance(v, str) else None for v in unlockable]
        if None in ways or Way.COUNTER_VOUCHER in ways:
            names = ", ".join(w.value for w in Way if w is not Way.COUNTER_VOUCHER)
            raise ConfigurationError(f"unlockable names ways in: {names}")
        ids = tuple(dict.fromkeys(w for w in ways if w is not None))
        object.__setattr__(self, "unlockable", ids)

    @property
    def marker_window(self) -> float:
        """How long a redemption marker is kept: past the end of any voucher still acceptable now."""
        return self.max_ttl + self.clock_skew

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> VoucherSettings:
        """The named preset from :data:`VOUCHER_PRESETS`, with any field overridden."""
        try:
            chosen = VOUCHER_PRESETS[name]
        except KeyError:
            raise ConfigurationError(
                f"unknown preset {name!r}; choose from {sorted(VOUCHER_PRESETS)}"
            ) from None
        return cls(**{**chosen, **overrides})
