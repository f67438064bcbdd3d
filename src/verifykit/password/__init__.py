"""Passwords: argon2id hashes the caller stores, NIST SP 800-63B policy, throttled verification.

>>> from verifykit.testing import Keyring, MemoryStore
>>> pv = PasswordVerifier(
...     store=MemoryStore(), keyring=Keyring.generate(), settings=PasswordSettings(preset="cheap_tests_only")
... )
>>> stored = pv.hash("correct horse battery staple")
>>> pv.verify("user-1", stored, "correct horse battery staple").approved
True
"""

from ._aio import PasswordVerifier as AsyncPasswordVerifier
from ._budget import MemoryBudget, default_memory_budget
from ._calibrate import calibrate, measure_ms
from ._hasher import PasswordHasher, Scheme, StoredHash, parse_hash
from ._policy import MAX_PASSWORD_BYTES, PasswordPolicy, PolicyResult, PolicyViolation
from ._profiles import (
    CHEAP_TESTS_ONLY,
    DEFAULT_PRESET,
    OWASP_MINIMUM,
    PRESETS,
    RFC_9106_LOW_MEMORY,
    HashParameters,
    resolve_parameters,
)
from ._settings import DEFAULT_BUSY_TIMEOUT, DEFAULT_CLIENT_LIMIT, DEFAULT_LOCKOUT, PasswordSettings
from ._verifier import PasswordVerifier

__all__ = [
    "CHEAP_TESTS_ONLY",
    "DEFAULT_BUSY_TIMEOUT",
    "DEFAULT_CLIENT_LIMIT",
    "DEFAULT_LOCKOUT",
    "DEFAULT_PRESET",
    "MAX_PASSWORD_BYTES",
    "OWASP_MINIMUM",
    "PRESETS",
    "RFC_9106_LOW_MEMORY",
    "AsyncPasswordVerifier",
    "HashParameters",
    "MemoryBudget",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordSettings",
    "PasswordVerifier",
    "PolicyResult",
    "PolicyViolation",
    "Scheme",
    "StoredHash",
    "calibrate",
    "default_memory_budget",
    "measure_ms",
    "parse_hash",
    "resolve_parameters",
]
