"""Ways in and what each is worth under NIST SP 800-63B-4 (rev. 4, 2025): the tables, nothing else.

Section numbers are rev. 4's. See docs/ladder.md for the reasoning behind each row.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from types import MappingProxyType

from .._errors import InvalidInput
from .._verdict import Way

__all__ = [
    "AAL",
    "ASSURANCE",
    "COMBINATIONS",
    "OWN_COUNT",
    "Combination",
    "Role",
    "parse_level",
    "parse_way",
]


class AAL(IntEnum):
    """Authentication assurance levels (SP 800-63B-4 section 2)."""

    AAL1 = 1
    AAL2 = 2
    AAL3 = 3


class Role(StrEnum):
    """What a way in proves."""

    #: An authenticator in SP 800-63B-4's sense: it reaches an AAL alone or in a combination.
    AUTHENTICATOR = "authenticator"
    #: Control of an address (email is not an out-of-band channel, section 3.1.3.1).
    ADDRESS_PROOF = "address_proof"
    #: A server-side face match: evidence, not an authenticator (section 3.2.3).
    IDENTITY_EVIDENCE = "identity_evidence"
    #: Account recovery after an in-person identity check (section 4.2): the way out of a hard lock.
    RECOVERY = "recovery"


@dataclass(frozen=True, slots=True)
class Combination:
    """Ways that together reach ``level``."""

    ways: tuple[Way, ...]
    level: AAL


#: Each way's role and the level it reaches alone (``None``: no AAL at all).
ASSURANCE: Mapping[Way, tuple[Role, AAL | None]] = MappingProxyType(
    {
        # A synced passkey: a multi-factor cryptographic authenticator, phishing-resistant, up to AAL2
        # (3.1.7); a device-bound one with attestation the operator trusts reaches AAL3 (see passkey).
        Way.PASSKEY: (Role.AUTHENTICATOR, AAL.AAL2),
        Way.AUTHENTICATOR_APP: (Role.AUTHENTICATOR, AAL.AAL1),  # single-factor OTP, 3.1.4
        Way.PASSWORD: (Role.AUTHENTICATOR, AAL.AAL1),  # password, 3.1.1
        Way.RECOVERY_CODE: (Role.AUTHENTICATOR, AAL.AAL1),  # look-up secret, 3.1.2
        Way.EMAIL_CODE: (Role.ADDRESS_PROOF, None),  # email is no out-of-band channel, 3.1.3.1
        Way.FACE: (Role.IDENTITY_EVIDENCE, None),  # biometrics only with a physical authenticator, 3.2.3
        Way.COUNTER_VOUCHER: (Role.RECOVERY, None),  # recovery by identity proofing, 4.2
    }
)

#: Every combination worth offering, most assured first. AAL2 from two single-factor
#: authenticators needs a password and a physical authenticator (section 2.2.1).
COMBINATIONS: tuple[Combination, ...] = (
    Combination((Way.PASSKEY,), AAL.AAL2),
    Combination((Way.PASSWORD, Way.AUTHENTICATOR_APP), AAL.AAL2),
    Combination((Way.PASSWORD, Way.RECOVERY_CODE), AAL.AAL2),
    Combination((Way.AUTHENTICATOR_APP,), AAL.AAL1),
    Combination((Way.PASSWORD,), AAL.AAL1),
    Combination((Way.RECOVERY_CODE,), AAL.AAL1),
)

#: The ways with a failure count of their own, which can close them alone (email codes count only
#: in the subject's budget; a counter voucher is never closed).
OWN_COUNT: frozenset[Way] = frozenset(
    {Way.PASSWORD, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE, Way.PASSKEY, Way.FACE}
)


def parse_way(value: object) -> Way:
    """A :class:`Way` from itself or its value; :class:`InvalidInput` otherwise."""
    if isinstance(value, str) and value in Way._value2member_map_:
        return Way(value)
    names = ", ".join(w.value for w in Way)
    raise InvalidInput(f"enrolled names ways in: {names}", field="enrolled")


def parse_level(value: object) -> AAL | None:
    """An :class:`AAL` from itself, 1-3 or ``"aal1"``-``"aal3"``; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, str) and value.upper() in AAL.__members__:
        return AAL[value.upper()]
    if isinstance(value, int) and not isinstance(value, bool) and value in {a.value for a in AAL}:
        return AAL(value)
    raise InvalidInput("level is AAL1, AAL2 or AAL3 (or None for any way in)", field="level")
