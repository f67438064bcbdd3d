"""The fallback ways in, side by side: authenticator-app codes (TOTP), one-time recovery codes,
and the assisted check an operator performs in person.

The asyncio flavour of each, with the same names, arguments and results, is in :mod:`verifykit.aio`.
"""

from ._recovery import RecoveryCodeSet
from ._settings import (
    ASSISTED_PRESETS,
    DEFAULT_UNLOCKS,
    RECOVERY_PRESETS,
    TOTP_PRESETS,
    AssistedSettings,
    RecoverySettings,
    TOTPSettings,
)
from ._totp import TOTPEnrollment
from ._verifiers import AssistedCheck, RecoveryCodes, TOTPVerifier

__all__ = [
    "ASSISTED_PRESETS",
    "DEFAULT_UNLOCKS",
    "RECOVERY_PRESETS",
    "TOTP_PRESETS",
    "AssistedCheck",
    "AssistedSettings",
    "RecoveryCodeSet",
    "RecoveryCodes",
    "RecoverySettings",
    "TOTPEnrollment",
    "TOTPSettings",
    "TOTPVerifier",
]
