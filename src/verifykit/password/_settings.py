"""Password verifier settings: one frozen value, validated once, with named argon2id presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._errors import ConfigurationError
from ..store import LockoutPolicy, WindowPolicy
from ._blocklist import Blocklist
from ._policy import PasswordPolicy
from ._profiles import DEFAULT_PRESET, HashParameters, resolve_parameters

__all__ = ["DEFAULT_BUSY_TIMEOUT", "DEFAULT_CLIENT_LIMIT", "DEFAULT_LOCKOUT", "PasswordSettings"]

#: Per subject: from the 10th consecutive failure a pause of 60 s, doubling up to an hour; at 100
#: consecutive failures the subject stays locked until a success another way in resets it
#: (NIST SP 800-63B: no more than 100 consecutive failed attempts).
DEFAULT_LOCKOUT = LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)
#: Per client address: 100 failed verifies per 10 minutes, across all subjects (a password spray
#: from one address). Generous, because many people can share one address.
DEFAULT_CLIENT_LIMIT = WindowPolicy(limit=100, window=600)
#: How long a hash or verify waits for room in the memory budget before ``BusyError``.
DEFAULT_BUSY_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class PasswordSettings:
    """How passwords are hashed, checked and throttled. Validated once, here.

    - ``preset``: the argon2id parameters new hashes get, by name (``"rfc9106_low_memory"``, the
      default; ``"owasp_minimum"``; ``"cheap_tests_only"``, never for real passwords) or as
      :class:`HashParameters`. A stored hash weaker than this is replaced on its next success.
    - ``pepper=False``: with ``True``, passwords are HMAC'd under a keyring key before hashing, so a
      stolen table of hashes is useless without the keyring.
    - ``policy``: the NIST SP 800-63B rules :meth:`PasswordVerifier.hash` enforces;
      ``blocklist``: the breached-password list (None: the shipped NCSC top 100,000).
    - ``lockout``: :data:`DEFAULT_LOCKOUT` per subject; ``client_limit``: :data:`DEFAULT_CLIENT_LIMIT`
      failed verifies per client address (None turns it off).
    - ``memory_budget``: bytes of argon2 memory in flight in this process (None: a quarter of
      physical memory); callers beyond it wait up to ``busy_timeout`` seconds, then ``BusyError``.
    - ``service_name``: refused inside passwords, like the subject (the policy's context rule).
    """

    preset: str | HashParameters = DEFAULT_PRESET
    pepper: bool = False
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    blocklist: Blocklist | None = None
    lockout: LockoutPolicy = DEFAULT_LOCKOUT
    client_limit: WindowPolicy | None = DEFAULT_CLIENT_LIMIT
    memory_budget: int | None = None
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    service_name: str = ""

    def __post_init__(self) -> None:
        resolve_parameters(self.preset)
        if not isinstance(self.pepper, bool):
            raise ConfigurationError("pepper must be True or False")
        if not isinstance(self.policy, PasswordPolicy):
            raise ConfigurationError("policy must be a PasswordPolicy")
        if not isinstance(self.lockout, LockoutPolicy):
            raise ConfigurationError("lockout must be a LockoutPolicy")
        budget = self.memory_budget
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
            raise ConfigurationError("memory_budget must be a positive number of bytes, or None")
        if isinstance(self.busy_timeout, bool) or not (
            isinstance(self.busy_timeout, int | float)
            and math.isfinite(self.busy_timeout)
            and self.busy_timeout >= 0
        ):
            raise ConfigurationError("busy_timeout must be a number of seconds >= 0")
        if not isinstance(self.service_name, str):
            raise ConfigurationError("service_name must be a string")

    @property
    def parameters(self) -> HashParameters:
        """The argon2id parameters ``preset`` names."""
        return resolve_parameters(self.preset)
