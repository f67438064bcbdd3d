"""Email one-time codes."""

from ._aio import EmailOTP as AsyncEmailOTP
from ._decide import Challenge, DeliveryStatus
from ._email import EmailOTP
from ._settings import OTPSettings

__all__ = ["AsyncEmailOTP", "Challenge", "DeliveryStatus", "EmailOTP", "OTPSettings"]
