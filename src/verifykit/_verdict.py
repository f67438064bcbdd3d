"""What a check answers: approved or not, why, and what the person can do next."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = ["Fallback", "Reason", "Verdict", "VerifierId", "WaysIn", "assisted_check_only"]


class Reason(StrEnum):
    """Machine-readable reason for a verdict. Values are stable: callers and the sidecar rely on them."""

    APPROVED = "approved"
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    RATE_LIMITED = "rate_limited"
    LOCKED_OUT = "locked_out"
    REPLAYED = "replayed"
    CANCELED = "canceled"
    DENIED = "denied"
    NOT_FOUND = "not_found"
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason name, not a password
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    FACE_TOO_SMALL = "face_too_small"
    BLURRY = "blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    MISMATCH = "mismatch"


class VerifierId(StrEnum):
    """Which verifier: names lockout keys, audit events and what a counter voucher unlocks.

    Values are stable (they are part of store keys and audit records).
    """

    OTP = "otp"
    PASSWORD = "password"  # noqa: S105 - a verifier's name, not a password
    TOTP = "totp"
    RECOVERY = "recovery"
    FACE = "face"
    VOUCHER = "voucher"


class Fallback(StrEnum):
    """Another way in that a caller can offer when one channel fails (the fallback ladder)."""

    RESEND = "resend"
    OTHER_EMAIL = "other_email"
    AUTHENTICATOR_APP = "authenticator_app"
    RECOVERY_CODE = "recovery_code"
    #: A person at a counter checks documents and an officer signs a voucher (:mod:`verifykit.vouchers`).
    ASSISTED_CHECK = "assisted_check"


WaysIn = Callable[[str], Sequence[Fallback]]
"""Which other ways in a subject has, for verdicts to offer (the caller knows; verifykit does not)."""


def assisted_check_only(_subject: str) -> tuple[Fallback, ...]:
    """The default answer to ``ways_in``: every subject can be checked by a person at a counter."""
    return (Fallback.ASSISTED_CHECK,)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one check.

    A wrong answer is a verdict, not an exception, because the caller needs these
    facts to guide a person: how many tries are left, when to try again, and which
    other ways in exist.

    ``stored`` is new state the caller must keep in place of what it passed (password: the
    rehashed PHC string; recovery codes: the remaining set); ``None`` means keep what you have.
    ``attempts_left`` is ``None`` on approval: the failure count was reset.
    """

    approved: bool
    reason: Reason
    attempts_left: int | None = None
    retry_after: float | None = None
    score: float | None = None
    distance: float | None = None
    challenge_id: str | None = None
    fallbacks: tuple[Fallback, ...] = ()
    stored: str | bytes | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.approved
