"""Email OTP settings: every default is one a security reviewer can point to."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, field

from .._errors import ConfigurationError
from ..delivery import SUPPORTED_LOCALES, MailboxRules
from ..store import LockoutPolicy, WindowPolicy

__all__ = ["MAX_LIVE_SENDS", "OTPSettings"]

#: The most sends whose codes one challenge accepts at once: each one adds a valid code to guess.
MAX_LIVE_SENDS = 5


@dataclass(frozen=True, slots=True)
class OTPSettings:
    """How email one-time codes behave. Validated once, here.

    Defaults:

    - ``digits=6``: one code in a million; with 5 checks per challenge and 2 live codes an
      attacker's chance per challenge is at most 1e-5 (``live_sends=1``: 5e-6).
    - ``ttl=600``: each code is valid for 10 minutes from its own send, the bound NIST SP 800-63B-4
      recommends for a one-time code sent out of band (docs/otp.md says when to choose otherwise).
    - ``live_sends=2``: the codes of the last two sends are both accepted, each until its own
      expiry, so a late first message still works after a resend; 1 makes a resend retire every
      earlier code. The attempt budget is shared, and with N live codes each guess is N times as
      likely to hit: at most ``max_attempts * live_sends / 10**digits`` per challenge (1e-5 by default).
    - ``max_attempts=5``: checks per challenge, across resends (a resend does not restore them).
    - ``resend_cooldown=30`` seconds, multiplied by ``resend_factor=2`` after each resend, up to
      ``resend_cooldown_max=300``; at most ``max_sends=5`` sends per challenge.
    - ``destination_limit``: 5 sends per mailbox per 10 minutes (Twilio Verify's default).
    - ``mailbox_rules``: which spellings of an address count as one mailbox for that limit
      (case, Unicode compatibility forms, ``+tags``, Gmail's dots and ``googlemail.com``); see
      :class:`~verifykit.delivery.MailboxRules`. Mail still goes to the address as given.
    - ``subject_limit``: 10 new challenges per subject per hour.
    - ``lockout``: what a failed check does to the subject's one failure budget, which every
      way in shares (docs/ladder.md): from the 10th consecutive failure the subject waits 60 s,
      doubling up to an hour; 100 consecutive failures lock every way in until an unlock (a
      counter voucher; NIST SP 800-63B-4 section 3.2.2). Any success resets it.
    - ``client_limit``: optional, per client address (e.g. 30 starts or checks per 10 minutes).
    - ``retention=3600``: a closed challenge stays readable for an hour so status can say why.
    - ``time_zone="UTC"``: the zone (an IANA name such as ``"Asia/Jakarta"``) in which messages say
      when their code was requested ("code 2 of 2, requested 10:42 UTC").
    """

    digits: int = 6
    ttl: float = 600.0
    max_attempts: int = 5
    resend_cooldown: float = 30.0
    resend_factor: float = 2.0
    resend_cooldown_max: float = 300.0
    max_sends: int = 5
    live_sends: int = 2
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
    time_zone: str = "UTC"

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
        if isinstance(self.live_sends, bool) or not 1 <= self.live_sends <= MAX_LIVE_SENDS:
            raise ConfigurationError(
                f"live_sends must be between 1 and {MAX_LIVE_SENDS} (each one multiplies the guessing chance)"
            )
        if self.default_locale not in SUPPORTED_LOCALES:
            raise ConfigurationError(f"default_locale must be one of {sorted(SUPPORTED_LOCALES)}")
        self.zone()  # refuses an unknown time zone now, not at the first send

    def zone(self) -> dt.tzinfo:
        """The time zone messages state request times in."""
        if self.time_zone == "UTC":
            return dt.UTC  # no tz database needed for the default
        try:
            return zoneinfo.ZoneInfo(self.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigurationError(f"unknown time zone {self.time_zone!r}: use an IANA name") from exc
