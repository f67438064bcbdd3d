"""The fallback ways in, side by side: authenticator-app codes (TOTP), one-time recovery codes,
and the assisted check an operator performs in person."""

from ._assisted import DEFAULT_UNLOCKS, AssistedCheck
from ._recovery import RecoveryCodes, RecoveryCodeSet, RecoveryResult
from ._totp import TOTPEnrollment, TOTPVerifier
from ._totp_settings import TOTPSettings

__all__ = [
    "DEFAULT_UNLOCKS",
    "AssistedCheck",
    "RecoveryCodeSet",
    "RecoveryCodes",
    "RecoveryResult",
    "TOTPEnrollment",
    "TOTPSettings",
    "TOTPVerifier",
]
