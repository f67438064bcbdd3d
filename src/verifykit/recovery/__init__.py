"""Recovery codes: one-time codes printed or saved for when every other way in is gone."""

from ._redeem import RecoveryCodes, RecoveryCodeSet, RecoveryResult

__all__ = ["RecoveryCodeSet", "RecoveryCodes", "RecoveryResult"]
