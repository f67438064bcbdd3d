"""The fallback ways in, side by side: authenticator-app codes (TOTP) and one-time recovery codes.
The last rung, a person checked at a counter, is :mod:`verifykit.vouchers`.

The asyncio flavour of each, with the same names, arguments and results, is in :mod:`verifykit.aio`.
"""

from ._aio import RecoveryCodes as AsyncRecoveryCodes
from ._aio import TOTPVerifier as AsyncTOTPVerifier
from ._recovery import RecoveryCodeSet
from ._settings import RECOVERY_PRESETS, TOTP_PRESETS, RecoverySettings, TOTPSettings
from ._totp import TOTPEnrollment
from ._verifiers import RecoveryCodes, TOTPVerifier

__all__ = [
    "RECOVERY_PRESETS",
    "TOTP_PRESETS",
    "AsyncRecoveryCodes",
    "AsyncTOTPVerifier",
    "RecoveryCodeSet",
    "RecoveryCodes",
    "RecoverySettings",
    "TOTPEnrollment",
    "TOTPSettings",
    "TOTPVerifier",
]
