"""Email one-time codes."""

from ._decide import Challenge, DeliveryStatus
from ._email import EmailOTP
from ._settings import OTPSettings

__all__ = ["Challenge", "DeliveryStatus", "EmailOTP", "OTPSettings"]
