"""What a check answers: approved or not, why, and what the person can do next.

One vocabulary for every check: :class:`Way` names the ways in, :class:`Reason` says why, and
every result (:class:`Verdict`, a face enrolment, a voucher redemption, a password policy check)
has the same three fields: ``approved``, ``reason`` and ``details``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Protocol

__all__ = ["Reason", "Result", "Verdict", "Way", "WaysIn", "counter_voucher_only", "store_name", "way_named"]


class Reason(StrEnum):
    """Why a check answered as it did, for every check. Values are stable: callers and the
    sidecar rely on them.

    A specific refusal is a reason of its own (``same_officer``, ``hard_locked``), never
    ``denied`` plus a detail.
    """

    APPROVED = "approved"
    # Challenges and lockouts.
    WRONG_CODE = "wrong_code"
    EXPIRED = "expired"
    #: Every attempt of this challenge has been spent (``Verdict.attempts_left`` is 0).
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"
    RATE_LIMITED = "rate_limited"
    #: Too many consecutive failures: wait ``retry_after`` seconds.
    LOCKED_OUT = "locked_out"
    #: The hard cap was reached: only another way in or a counter voucher opens it again.
    HARD_LOCKED = "hard_locked"
    REPLAYED = "replayed"
    CANCELED = "canceled"
    #: Refused for a reason no other member names (see ``details``).
    DENIED = "denied"
    NOT_FOUND = "not_found"
    # The ladder: why a way in is closed.
    #: The person has not set this way in up.
    NOT_ENROLLED = "not_enrolled"
    #: The last email could not be delivered.
    DELIVERY_FAILED = "delivery_failed"
    #: Neither alone nor with the ways open now does it reach the level asked.
    BELOW_LEVEL = "below_level"
    # Passwords: the check, and the policy a new one must meet.
    WRONG_PASSWORD = "wrong_password"  # noqa: S105 - a reason name, not a password
    #: Shorter than the policy's minimum.
    TOO_SHORT = "too_short"
    #: Longer than the policy's maximum.
    TOO_LONG = "too_long"
    #: One of the most common passwords seen in data breaches.
    BREACHED = "breached"
    #: Repeats one character or pattern.
    REPETITIVE = "repetitive"
    #: A run of consecutive characters.
    SEQUENTIAL = "sequential"
    #: Contains the user name, the email or the service's name.
    CONTEXT = "context"
    # Faces.
    NO_FACE = "no_face"
    MULTIPLE_FACES = "multiple_faces"
    LOW_QUALITY = "low_quality"
    FACE_TOO_SMALL = "face_too_small"
    BLURRY = "blurry"
    TOO_DARK = "too_dark"
    TOO_BRIGHT = "too_bright"
    MISMATCH = "mismatch"
    # Counter vouchers.
    #: Not a voucher of a known version and shape (truncated, extra bytes, bad base64url).
    MALFORMED = "malformed"
    #: A signature does not verify: forged, or a signed byte altered.
    BAD_SIGNATURE = "bad_signature"
    #: A signature names a key id the registry does not hold.
    UNKNOWN_OFFICER = "unknown_officer"
    #: A signature is by an officer whose key was revoked.
    REVOKED_OFFICER = "revoked_officer"
    #: Two signatures by one key: one officer cannot be both pairs of eyes.
    SAME_OFFICER = "same_officer"
    #: Four eyes are required and the voucher carries one signature.
    FOUR_EYES_REQUIRED = "four_eyes_required"
    #: The voucher declares a lifetime longer than the service accepts.
    TTL_TOO_LONG = "ttl_too_long"
    #: Issued later than the store's clock allows.
    NOT_YET_VALID = "not_yet_valid"
    #: Issued for another subject.
    WRONG_SUBJECT = "wrong_subject"
    #: Names a way in this service does not let vouchers unlock.
    NOT_UNLOCKABLE = "not_unlockable"
    # Passkeys.
    #: The browser reported another origin than the service's.
    WRONG_ORIGIN = "wrong_origin"
    #: The authenticator signed for another relying party id.
    WRONG_RP_ID = "wrong_rp_id"
    #: The authenticator did not verify the person (no PIN or biometric) where it was required.
    USER_NOT_VERIFIED = "user_not_verified"
    #: The signature counter went backwards: the authenticator may have been cloned.
    CLONED_AUTHENTICATOR = "cloned_authenticator"
    #: The credential is not the one the caller stored for this subject.
    UNKNOWN_CREDENTIAL = "unknown_credential"


class Way(StrEnum):
    """A way in: what a check uses, what a verdict offers next, what the ladder ranks, what a
    voucher unlocks. Values are stable: the sidecar, audit records and vouchers rely on them."""

    EMAIL_CODE = "email_code"
    PASSWORD = "password"  # noqa: S105 - a way's name, not a password
    AUTHENTICATOR_APP = "authenticator_app"
    RECOVERY_CODE = "recovery_code"
    PASSKEY = "passkey"
    FACE = "face"
    #: A person at a counter checks documents and an officer signs a voucher (:mod:`verifykit.vouchers`).
    COUNTER_VOUCHER = "counter_voucher"


# The names store keys were built from before the ways had one name: kept, so that an upgrade
# neither forgets a lockout nor opens a new window. Only key builders read this.
_STORE_NAMES: Mapping[Way, str] = MappingProxyType(
    {
        Way.EMAIL_CODE: "otp",
        Way.PASSWORD: "password",
        Way.AUTHENTICATOR_APP: "totp",
        Way.RECOVERY_CODE: "recovery",
        Way.PASSKEY: "passkey",
        Way.FACE: "face",
        Way.COUNTER_VOUCHER: "voucher",
    }
)


def store_name(way: Way) -> str:
    """The token a way's store keys carry (stable across releases; see ``_STORE_NAMES``)."""
    return _STORE_NAMES[way]


_BY_NAME: Mapping[str, Way] = MappingProxyType(
    {**{w.value: w for w in Way}, **{name: w for w, name in _STORE_NAMES.items()}}
)


def way_named(name: str) -> Way | None:
    """The way a name means: its value, or the name vouchers signed before the ways had one
    name (``otp``, ``totp``, ``recovery``), so that those vouchers still redeem."""
    return _BY_NAME.get(name)


WaysIn = Callable[[str], Sequence[Way]]
"""The ways in a subject has set up, for verdicts to offer (the caller knows; verifykit does not)."""


def counter_voucher_only(_subject: str) -> tuple[Way, ...]:
    """The default answer to ``ways_in``: every subject can be checked by a person at a counter."""
    return (Way.COUNTER_VOUCHER,)


class Result(Protocol):
    """What every check's answer has: :class:`Verdict`, ``face.Enrollment``,
    ``vouchers.Redemption``, ``password.PolicyResult``."""

    @property
    def approved(self) -> bool: ...
    @property
    def reason(self) -> Reason: ...
    @property
    def details(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer to one check.

    A wrong answer is a verdict, not an exception, because the caller needs these
    facts to guide a person: how many tries are left, when to try again, and which
    other ways in exist.

    ``attempts_left`` counts what is left on this challenge (email codes); ``budget_left`` counts
    the failures the subject may still make with this way before a lock (passwords, apps,
    recovery codes, passkeys, faces). Both are ``None`` on approval and where they do not apply.
    ``ways_in`` lists the other ways to offer, most useful first, when this one is in trouble
    (``Way.EMAIL_CODE`` there means: ask for a new code).
    ``stored`` is new state the caller must keep in place of what it passed (password: the
    rehashed PHC string; recovery codes: the remaining set; passkeys: the updated credential);
    ``None`` means keep what you have.
    """

    approved: bool
    reason: Reason
    attempts_left: int | None = None
    retry_after: float | None = None
    score: float | None = None
    distance: float | None = None
    challenge_id: str | None = None
    ways_in: tuple[Way, ...] = ()
    stored: str | bytes | None = None
    details: Mapping[str, str] = field(default_factory=dict)
    budget_left: int | None = None

    def __bool__(self) -> bool:
        return self.approved
