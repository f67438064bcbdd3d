"""Email OTP settings: every default is one a security reviewer can point to."""

from __future__ import annotations

from dataclasses import dataclass, field

from .._errors import ConfigurationError
from ..delivery import MailboxRules
from ..store import LockoutPolicy, WindowPolicy

__all__ = ["OTPSettings"]


@dataclass(frozen=True, slots=True)
class OTPSettings:
    """How email one-time codes behave. Validated once, here.

    Defaults:

    - ``digits=6``: one guess in a million; with 5 checks per challenge an attacker's chance
      per challenge is 5e-6.
    - ``ttl=600``: a code is valid for 10 minutes (long enough for slow mail, short enough to
      keep the guessing window small).
    - ``max_attempts=5``: checks per challenge, across resends (a resend does not restore them).
    - ``resend_cooldown=30`` seconds, multiplied by ``resend_factor=2`` after each resend, up to
      ``resend_cooldown_max=300``; at most ``max_sends=5`` sends per challenge.
    - ``destination_limit``: 5 sends per mailbox per 10 minutes (Twilio Verify's default).
    - ``mailbox_rules``: which spellings of an address count as one mailbox for that limit
      (case, Unicode compatibility forms, ``+tags``, Gmail's dots and ``googlemail.com``); see
      :class:`~verifykit.delivery.MailboxRules`. Mail still goes to the address as given.
    - ``subject_limit``: 10 new challenges per subject per hour.
    - ``lockout``: failed checks per subject across challenges: from the 10th consecutive failure
      the subject waits 60 s, doubling up to an hour; 100 consecutive failures lock it until a
      success through another way in (NIST SP 800-63B section 5.2.2).
    - ``client_limit``: optional, per client address (e.g. 30 starts or checks per 10 minutes).
    - ``retention=3600``: a closed challenge stays readable for an hour so status can say why.
    """

    digits: int = 6
    ttl: float = 600.0
    max_attempts: int = 5
    resend_cooldown: float = 30.0
    resend_factor: float = 2.0
    resend_cooldown_max: float = 300.0
    max_sends: int = 5
    destination_limit: WindowPolicy = field(default_factory=lambda: WindowPolicy(limit=5, window=600))
    mailbox_rules: MailboxRules = field(default_factory=MailboxRules)
    subject_limit: WindowPolicy | None = field(default_factory=lambda: WindowPolicy(limit=10, window=3600))
    lockout: LockoutPolicy = field(
        default_factory=lambda: LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)
    )
    client_limit: WindowPolicy | None = None
    retention: float = 3600.0
    sender: str = "verifykit <no-reply@verifykit.invalid>"
    service_name: str = "verifykit"
    default_locale: str = "en"

    def __post_init__(self) -> None:
        if not 4 <= self.digits <= 10:
            raise ConfigurationError("digits must be between 4 and 10")
        if not 1 <= self.max_attempts <= 20:
            raise ConfigurationError("max_attempts must be between 1 and 20")
        if self.ttl <= 0 or self.ttl > 86400:
            raise ConfigurationError("ttl must be between 0 and 86400 seconds")
        if (
            self.resend_cooldown < 0
            or self.resend_factor < 1
            or self.resend_cooldown_max < self.resend_cooldown
        ):
            raise ConfigurationError("resend cooldown needs cooldown >= 0, factor >= 1, max >= cooldown")
        if self.max_sends < 1:
            raise ConfigurationError("max_sends must be at least 1")
        if self.retention < 0:
            raise ConfigurationError("retention must not be negative")
