"""Checking a voucher, free of I/O: given the text, the officers, the settings and the time,
the refusal it earns (or none). Redemption adds only the one-time marker and the unlock."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidSignature

from .._errors import InvalidInput
from .._verdict import Reason, Way, way_named
from ._format import Voucher, VoucherSignature, decode_voucher
from ._officers import OfficerRegistry
from ._settings import VoucherSettings

__all__ = ["Inspection", "SignatureCheck", "SignatureStatus", "inspect_voucher"]


class SignatureStatus(StrEnum):
    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_OFFICER = "unknown_officer"
    REVOKED_OFFICER = "revoked_officer"


@dataclass(frozen=True, slots=True)
class SignatureCheck:
    """One signature as checked against the registry; ``name`` is the officer's label, if known."""

    key_id: str
    status: SignatureStatus
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    """What a voucher says and whether it would be accepted now (the one-time marker aside).

    ``voucher`` is None when the text is malformed; ``subject_matches`` is None when no subject
    was given.
    """

    voucher: Voucher | None
    signatures: tuple[SignatureCheck, ...]
    reason: Reason | None
    subject_matches: bool | None = None

    @property
    def acceptable(self) -> bool:
        return self.reason is None


def _check_signature(registry: OfficerRegistry, voucher: Voucher, signed: VoucherSignature) -> SignatureCheck:
    officer = registry.get(signed.key_id)
    if officer is None:
        return SignatureCheck(signed.key_id, SignatureStatus.UNKNOWN_OFFICER)
    try:
        officer.verifier().verify(signed.signature, voucher.signed_message())
    except InvalidSignature:
        return SignatureCheck(signed.key_id, SignatureStatus.BAD_SIGNATURE, officer.name)
    if not officer.active:
        return SignatureCheck(signed.key_id, SignatureStatus.REVOKED_OFFICER, officer.name)
    return SignatureCheck(signed.key_id, SignatureStatus.VALID, officer.name)


# Checked in this order, so the refusal names the most basic fault: who signed, then what.
_SIGNATURE_REFUSALS = (
    (SignatureStatus.UNKNOWN_OFFICER, Reason.UNKNOWN_OFFICER),
    (SignatureStatus.BAD_SIGNATURE, Reason.BAD_SIGNATURE),
    (SignatureStatus.REVOKED_OFFICER, Reason.REVOKED_OFFICER),
)


def _refusal(  # noqa: PLR0911 - one return per rule, in order
    voucher: Voucher,
    checks: tuple[SignatureCheck, ...],
    settings: VoucherSettings,
    now: float,
    subject_matches: bool | None,
) -> Reason | None:
    if len({s.key_id for s in voucher.signatures}) != len(voucher.signatures):
        return Reason.SAME_OFFICER
    statuses = {c.status for c in checks}
    for status, refusal in _SIGNATURE_REFUSALS:
        if status in statuses:
            return refusal
    if settings.four_eyes and len(checks) < 2:
        return Reason.FOUR_EYES_REQUIRED
    if voucher.ttl > settings.max_ttl:
        return Reason.TTL_TOO_LONG
    if voucher.issued_at > now + settings.clock_skew:
        return Reason.NOT_YET_VALID
    if now >= voucher.expires_at:
        return Reason.EXPIRED
    if subject_matches is False:
        return Reason.WRONG_SUBJECT
    if not all(way_named(name) in settings.unlockable for name in voucher.unlocks):
        return Reason.NOT_UNLOCKABLE
    return None


def inspect_voucher(
    text: str,
    registry: OfficerRegistry,
    settings: VoucherSettings,
    *,
    now: float,
    subject: str | None = None,
) -> Inspection:
    """Decode ``text`` and check it against ``registry`` and ``settings`` at time ``now``.

    Never raises for a bad voucher (the refusal says why); :class:`InvalidInput` only for text
    that is not a string or a malformed ``subject``.
    """
    if not isinstance(text, str):
        raise InvalidInput("a voucher is base64url text", field="voucher")
    try:
        voucher = decode_voucher(text)
    except InvalidInput:
        return Inspection(None, (), Reason.MALFORMED)
    matches = None if subject is None else voucher.for_subject(subject)
    checks = tuple(_check_signature(registry, voucher, s) for s in voucher.signatures)
    return Inspection(voucher, checks, _refusal(voucher, checks, settings, now, matches), matches)


def unlocked_ways(voucher: Voucher) -> tuple[Way, ...]:
    """The ways an accepted voucher unlocks (its names were checked by :func:`inspect_voucher`)."""
    return tuple(w for w in map(way_named, voucher.unlocks) if w is not None)
