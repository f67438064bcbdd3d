"""Library values <-> ``verifykit.v1`` messages. Used by the servicers and by the client, so the
two sides translate with the same code."""

from __future__ import annotations

import base64
import binascii
import dataclasses
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from google.protobuf import timestamp_pb2

from .._verdict import Reason, Verdict, Way
from ..ladder import AAL, Combination, Offer, Role, Rung
from ..otp import Challenge
from ..passkey import PasskeyCredential, PasskeyEnrollment, PasskeyOptions, assurance
from ..store import ChallengeStatus, FailureState
from ..vouchers import Inspection, Redemption, SignatureCheck, SignatureStatus, decode_voucher
from ._pb import common_pb2, email_otp_pb2, ladder_pb2, passkey_pb2, recovery_pb2, voucher_pb2

__all__ = [
    "challenge_from_proto",
    "challenge_to_proto",
    "delivery_from_proto",
    "delivery_to_proto",
    "enum_from_proto",
    "enum_to_proto",
    "offer_from_proto",
    "offer_to_proto",
    "passkey_credential_from_proto",
    "passkey_credential_to_proto",
    "passkey_enrollment_from_proto",
    "passkey_enrollment_to_proto",
    "passkey_options_from_proto",
    "passkey_options_to_proto",
    "passkey_verdict_from_proto",
    "passkey_verdict_to_proto",
    "redemption_from_proto",
    "redemption_to_proto",
    "verdict_from_proto",
    "verdict_to_proto",
    "voucher_inspection_from_proto",
    "voucher_inspection_to_proto",
    "voucher_redemption_from_proto",
    "voucher_redemption_to_proto",
    "ways_from_proto",
    "ways_to_proto",
]

E = TypeVar("E", bound=StrEnum)

# A library value maps to the proto member PREFIX_VALUE_IN_CAPITALS (wrong_code -> REASON_WRONG_CODE).
_PREFIX = {
    Reason: "REASON_",
    Way: "WAY_",
    ChallengeStatus: "CHALLENGE_STATUS_",
    Role: "WAY_ROLE_",
    SignatureStatus: "SIGNATURE_STATUS_",
}
_PROTO_ENUMS = {
    Reason: common_pb2.Reason,
    Way: common_pb2.Way,
    ChallengeStatus: email_otp_pb2.ChallengeStatus,
    Role: ladder_pb2.WayRole,
    SignatureStatus: voucher_pb2.SignatureStatus,
}
_DELIVERY_PREFIX = "DELIVERY_STATUS_"


def _table(enum: type[E]) -> tuple[dict[E, int], dict[int, E]]:
    proto = _PROTO_ENUMS[enum]
    prefix = _PREFIX[enum]
    to_proto: dict[E, int] = {}
    for member in enum:
        name = prefix + member.value.upper()
        if name in proto.keys():  # noqa: SIM118 (an EnumTypeWrapper is not a dict)
            to_proto[member] = proto.Value(name)
    return to_proto, {number: member for member, number in to_proto.items()}


_TABLES = {enum: _table(enum) for enum in _PROTO_ENUMS}


def enum_to_proto(member: StrEnum) -> int:
    """The proto number of a library enum member; 0 (UNSPECIFIED) when the proto lacks it."""
    return _TABLES[type(member)][0].get(member, 0)


def enum_from_proto(enum: type[E], number: int) -> E | None:
    """The library member for a proto number, or None for UNSPECIFIED or one this side does not know."""
    member = _TABLES[enum][1].get(number)
    return member if isinstance(member, enum) else None


def missing_members() -> dict[str, list[str]]:
    """Library enum members that no proto member mirrors (a test keeps this empty)."""
    return {enum.__name__: [m.value for m in enum if m not in _TABLES[enum][0]] for enum in _PROTO_ENUMS}


def verdict_to_proto(verdict: Verdict) -> common_pb2.Verdict:
    details = dict(verdict.details)
    reason = enum_to_proto(verdict.reason)
    if reason == 0:
        reason = common_pb2.REASON_DENIED
        details["reason"] = verdict.reason.value
    message = common_pb2.Verdict(
        approved=verdict.approved,
        reason=reason,  # type: ignore[arg-type]
        challenge_id=verdict.challenge_id or "",
        ways_in=ways_to_proto(verdict.ways_in),  # type: ignore[arg-type]
        upgraded_hash=verdict.stored if isinstance(verdict.stored, str) else "",
        details=details,
    )
    if verdict.attempts_left is not None:
        message.attempts_left = verdict.attempts_left
    if verdict.budget_left is not None:
        message.budget_left = verdict.budget_left
    if verdict.retry_after is not None:
        message.retry_after_seconds = verdict.retry_after
    if verdict.score is not None:
        message.score = verdict.score
    if verdict.distance is not None:
        message.distance = verdict.distance
    return message


def verdict_from_proto(message: common_pb2.Verdict) -> Verdict:
    details: Mapping[str, str] = dict(message.details)
    reason = enum_from_proto(Reason, message.reason)
    if reason is None:
        reason = Reason.APPROVED if message.approved else Reason.DENIED
    return Verdict(
        approved=message.approved,
        reason=reason,
        attempts_left=message.attempts_left if message.HasField("attempts_left") else None,
        retry_after=message.retry_after_seconds if message.HasField("retry_after_seconds") else None,
        score=message.score if message.HasField("score") else None,
        distance=message.distance if message.HasField("distance") else None,
        challenge_id=message.challenge_id or None,
        ways_in=ways_from_proto(message.ways_in),
        stored=message.upgraded_hash or None,
        details=details,
        budget_left=message.budget_left if message.HasField("budget_left") else None,
    )


def ways_to_proto(ways: Iterable[Way]) -> list[int]:
    return [n for n in (enum_to_proto(w) for w in ways) if n]


def ways_from_proto(numbers: Iterable[int]) -> tuple[Way, ...]:
    """The ways this side knows, in order; a newer way is left out (it cannot be offered here)."""
    return tuple(w for w in (enum_from_proto(Way, n) for n in numbers) if w is not None)


def _timestamp(seconds: float) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(int(seconds * 1e9))
    return stamp


def _seconds(stamp: timestamp_pb2.Timestamp) -> float:
    return stamp.ToNanoseconds() / 1e9


def challenge_to_proto(challenge: Challenge) -> email_otp_pb2.EmailOtpChallenge:
    delivery = _DELIVERY_PREFIX + challenge.delivery.upper()
    return email_otp_pb2.EmailOtpChallenge(
        id=challenge.id,
        subject=challenge.subject,
        status=enum_to_proto(challenge.status),  # type: ignore[arg-type]
        destination=challenge.destination,
        create_time=_timestamp(challenge.created_at),
        expire_time=_timestamp(challenge.expires_at),
        attempts_left=challenge.attempts_left,
        sends=challenge.sends,
        resend_time=_timestamp(challenge.resend_at),
        resend_after_seconds=challenge.resend_after,
        delivery=email_otp_pb2.DeliveryStatus.Value(delivery)  # type: ignore[arg-type]
        if delivery in email_otp_pb2.DeliveryStatus.keys()  # noqa: SIM118
        else email_otp_pb2.DELIVERY_STATUS_UNSPECIFIED,
        delivery_reason=challenge.delivery_reason,
        ways_in=ways_to_proto(challenge.ways_in),  # type: ignore[arg-type]
        live_sends=challenge.live_sends,
    )


def challenge_from_proto(message: email_otp_pb2.EmailOtpChallenge) -> Challenge:
    delivery = email_otp_pb2.DeliveryStatus.Name(message.delivery)
    status = enum_from_proto(ChallengeStatus, message.status)
    if status is None:
        raise ValueError(f"unknown challenge status {message.status}")
    return Challenge(
        id=message.id,
        subject=message.subject,
        status=status,
        destination=message.destination,
        created_at=_seconds(message.create_time),
        expires_at=_seconds(message.expire_time),
        attempts_left=message.attempts_left,
        sends=message.sends,
        resend_at=_seconds(message.resend_time),
        resend_after=message.resend_after_seconds,
        delivery=delivery.removeprefix(_DELIVERY_PREFIX).lower() if message.delivery else "",
        delivery_reason=message.delivery_reason,
        ways_in=ways_from_proto(message.ways_in),
        live_sends=message.live_sends,
    )


def redemption_to_proto(verdict: Verdict) -> recovery_pb2.RedeemRecoveryCodeResponse:
    """A recovery-code verdict: the set to keep travels beside the verdict, not in it."""
    # Not as upgraded_hash: that field is a password hash to store.
    response = recovery_pb2.RedeemRecoveryCodeResponse(
        verdict=verdict_to_proto(dataclasses.replace(verdict, stored=None))
    )
    if isinstance(verdict.stored, str):
        response.remaining_stored = verdict.stored
        response.remaining = len(verdict.stored.split(",")) if verdict.stored else 0
    return response


def redemption_from_proto(message: recovery_pb2.RedeemRecoveryCodeResponse) -> Verdict:
    """The verdict :meth:`verifykit.fallbacks.RecoveryCodes.redeem` returns, ``stored`` included."""
    verdict = verdict_from_proto(message.verdict)
    stored = message.remaining_stored if message.HasField("remaining_stored") else None
    return dataclasses.replace(verdict, stored=stored)


def delivery_from_proto(number: int) -> str | None:
    """``queued``, ``sent`` or ``failed``; None for UNSPECIFIED (no email was sent)."""
    if not number:
        return None
    return email_otp_pb2.DeliveryStatus.Name(number).removeprefix(_DELIVERY_PREFIX).lower()


def delivery_to_proto(delivery: str | None) -> int:
    name = _DELIVERY_PREFIX + (delivery or "").upper()
    return (
        email_otp_pb2.DeliveryStatus.Value(name)
        if delivery and name in email_otp_pb2.DeliveryStatus.keys()  # noqa: SIM118
        else 0
    )


def _rung_to_proto(rung: Rung) -> ladder_pb2.Rung:
    message = ladder_pb2.Rung(
        way=enum_to_proto(rung.way),  # type: ignore[arg-type]
        open=rung.open,
        role=enum_to_proto(rung.role),  # type: ignore[arg-type]
        level=int(rung.level) if rung.level is not None else 0,  # type: ignore[arg-type]
        reason=enum_to_proto(rung.reason) if rung.reason is not None else 0,  # type: ignore[arg-type]
    )
    if rung.retry_after is not None:
        message.retry_after_seconds = rung.retry_after
    if rung.until is not None:
        message.until.CopyFrom(_timestamp(rung.until))
    return message


def _rung_from_proto(message: ladder_pb2.Rung) -> Rung | None:
    way, role = enum_from_proto(Way, message.way), enum_from_proto(Role, message.role)
    if way is None or role is None:
        return None  # a way this side does not know yet: it cannot be offered
    return Rung(
        way,
        message.open,
        role,
        AAL(message.level) if message.level else None,
        enum_from_proto(Reason, message.reason),
        message.retry_after_seconds if message.HasField("retry_after_seconds") else None,
        _seconds(message.until) if message.HasField("until") else None,
    )


def offer_to_proto(offer: Offer) -> ladder_pb2.GetWaysInResponse:
    return ladder_pb2.GetWaysInResponse(
        level=int(offer.level) if offer.level is not None else 0,  # type: ignore[arg-type]
        open=[_rung_to_proto(r) for r in offer.open],
        closed=[_rung_to_proto(r) for r in offer.closed],
        combinations=[
            ladder_pb2.Combination(
                ways=[enum_to_proto(w) for w in c.ways],  # type: ignore[misc]
                level=int(c.level),  # type: ignore[arg-type]
            )
            for c in offer.combinations
        ],
        budget_failures=offer.budget.failures,
        budget_hard_locked=offer.budget.hard_locked,
        budget_retry_after_seconds=offer.budget.retry_after,
    )


def offer_from_proto(message: ladder_pb2.GetWaysInResponse) -> Offer:
    """The :class:`~verifykit.ladder.Offer` the library returns; ways this side does not know are left out."""
    combinations = []
    for c in message.combinations:
        ways = [enum_from_proto(Way, w) for w in c.ways]
        if c.level and all(w is not None for w in ways):
            combinations.append(Combination(tuple(w for w in ways if w is not None), AAL(c.level)))
    budget = FailureState(
        allowed=not message.budget_hard_locked and message.budget_retry_after_seconds <= 0,
        failures=message.budget_failures,
        retry_after=message.budget_retry_after_seconds,
        hard_locked=message.budget_hard_locked,
    )
    return Offer(
        level=AAL(message.level) if message.level else None,
        open=tuple(r for r in map(_rung_from_proto, message.open) if r is not None),
        closed=tuple(r for r in map(_rung_from_proto, message.closed) if r is not None),
        combinations=tuple(combinations),
        budget=budget,
    )


def voucher_redemption_to_proto(redemption: Redemption) -> voucher_pb2.RedeemVoucherResponse:
    return voucher_pb2.RedeemVoucherResponse(
        verdict=verdict_to_proto(redemption.verdict()),
        unlocked=ways_to_proto(redemption.unlocked),  # type: ignore[arg-type]
        officer_key_ids=list(redemption.officers),
        details=dict(redemption.details),
    )


def voucher_redemption_from_proto(message: voucher_pb2.RedeemVoucherResponse) -> Redemption:
    """The :class:`~verifykit.vouchers.Redemption` the library returns. A reason this side does
    not know yet reads as ``denied``: refused either way."""
    verdict = verdict_from_proto(message.verdict)
    return Redemption(
        approved=verdict.approved,
        reason=verdict.reason,
        unlocked=ways_from_proto(message.unlocked),
        officers=tuple(message.officer_key_ids),
        retry_after=verdict.retry_after,
        details=dict(message.details),
    )


def voucher_inspection_to_proto(inspection: Inspection) -> voucher_pb2.InspectVoucherResponse:
    response = voucher_pb2.InspectVoucherResponse(
        acceptable=inspection.acceptable,
        reason=enum_to_proto(inspection.reason) if inspection.reason is not None else 0,  # type: ignore[arg-type]
        signatures=[
            voucher_pb2.CheckedSignature(
                key_id=s.key_id,
                status=enum_to_proto(s.status),  # type: ignore[arg-type]
                name=s.name or "",
            )
            for s in inspection.signatures
        ],
    )
    voucher = inspection.voucher
    if voucher is not None:
        response.voucher.CopyFrom(
            voucher_pb2.DecodedVoucher(
                version=voucher.version,
                issue_time=_timestamp(voucher.issued_at),
                expire_time=_timestamp(voucher.expires_at),
                nonce=voucher.nonce_hex,
                reason=voucher.reason,
                unlocks=list(voucher.unlocks),
            )
        )
    if inspection.subject_matches is not None:
        response.subject_matches = inspection.subject_matches
    return response


def voucher_inspection_from_proto(text: str, message: voucher_pb2.InspectVoucherResponse) -> Inspection:
    """The :class:`~verifykit.vouchers.Inspection` the library returns for ``text``.

    The voucher itself is decoded from ``text`` here (the same bytes the server read); its
    checks are the server's, which alone knows the registry and the store's clock.
    """
    voucher = None
    if message.HasField("voucher"):
        try:
            voucher = decode_voucher(text)
        except ValueError:  # a version this side cannot read: the server's checks still stand
            voucher = None
    checks = []
    for s in message.signatures:
        status = enum_from_proto(SignatureStatus, s.status)
        checks.append(SignatureCheck(s.key_id, status or SignatureStatus.BAD_SIGNATURE, s.name or None))
    reason = enum_from_proto(Reason, message.reason)
    if not message.acceptable and reason is None:
        reason = Reason.DENIED  # a reason this side does not know yet: refused either way
    return Inspection(
        voucher=voucher,
        signatures=tuple(checks),
        reason=None if message.acceptable else reason,
        subject_matches=message.subject_matches if message.HasField("subject_matches") else None,
    )


# -- passkeys --------------------------------------------------------------------------------------


def passkey_options_to_proto(options: PasskeyOptions) -> passkey_pb2.PasskeyOptions:
    return passkey_pb2.PasskeyOptions(
        challenge_id=options.challenge_id,
        options_json=options.options_json,
        expire_time=_timestamp(options.expires_at),
    )


def passkey_options_from_proto(message: passkey_pb2.PasskeyOptions) -> PasskeyOptions:
    return PasskeyOptions(message.challenge_id, message.options_json, _seconds(message.expire_time))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def passkey_credential_to_proto(credential: PasskeyCredential) -> passkey_pb2.PasskeyCredential:
    """The credential's facts, with the assurance level it reaches (:func:`verifykit.passkey.assurance`)."""
    return passkey_pb2.PasskeyCredential(
        credential_id=_b64url(credential.credential_id),
        algorithm=credential.algorithm,
        sign_count=credential.sign_count,
        backup_eligible=credential.backup_eligible,
        backed_up=credential.backed_up,
        aaguid=credential.aaguid,
        attestation_format=credential.attestation_format,
        trusted_attestation=credential.trusted_attestation,
        user_verified=credential.user_verified,
        transports=list(credential.transports),
        create_time=_timestamp(credential.created_at),
        assurance_level=assurance(credential),
        public_key=credential.public_key,
    )


def passkey_credential_from_proto(message: passkey_pb2.PasskeyCredential) -> PasskeyCredential:
    """The :class:`~verifykit.passkey.PasskeyCredential` the library returns (its assurance level
    is :func:`verifykit.passkey.assurance` of it, so it is not carried)."""
    text = message.credential_id
    try:
        credential_id = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError("a passkey credential id that is not base64url") from None
    return PasskeyCredential(
        credential_id=credential_id,
        public_key=message.public_key,
        algorithm=message.algorithm,
        sign_count=message.sign_count,
        backup_eligible=message.backup_eligible,
        backed_up=message.backed_up,
        aaguid=message.aaguid,
        attestation_format=message.attestation_format,
        trusted_attestation=message.trusted_attestation,
        user_verified=message.user_verified,
        transports=tuple(message.transports),
        created_at=_seconds(message.create_time),
    )


def passkey_enrollment_to_proto(
    enrollment: PasskeyEnrollment,
) -> passkey_pb2.CompletePasskeyRegistrationResponse:
    details = dict(enrollment.details)
    reason = enum_to_proto(enrollment.reason)
    if reason == 0:  # as for verdicts: a reason the protos lack yet travels as DENIED plus its name
        reason = common_pb2.REASON_DENIED
        details["reason"] = enrollment.reason.value
    response = passkey_pb2.CompletePasskeyRegistrationResponse(
        approved=enrollment.approved,
        reason=reason,  # type: ignore[arg-type]
        details=details,
        stored=enrollment.stored or "",
    )
    if enrollment.credential is not None:
        response.credential.CopyFrom(passkey_credential_to_proto(enrollment.credential))
    return response


def passkey_enrollment_from_proto(
    message: passkey_pb2.CompletePasskeyRegistrationResponse,
) -> PasskeyEnrollment:
    """The :class:`~verifykit.passkey.PasskeyEnrollment` the library returns. A reason this side
    does not know yet reads as ``denied``: refused either way."""
    reason = enum_from_proto(Reason, message.reason)
    if reason is None:
        reason = Reason.APPROVED if message.approved else Reason.DENIED
    return PasskeyEnrollment(
        approved=message.approved,
        reason=reason,
        details=dict(message.details),
        stored=message.stored or None,
        credential=passkey_credential_from_proto(message.credential)
        if message.HasField("credential")
        else None,
    )


def passkey_verdict_to_proto(verdict: Verdict) -> passkey_pb2.VerifyPasskeyResponse:
    """A passkey verdict: the updated credential travels beside the verdict, not in it."""
    # Not as upgraded_hash: that field is a password hash to store.
    response = passkey_pb2.VerifyPasskeyResponse(
        verdict=verdict_to_proto(dataclasses.replace(verdict, stored=None))
    )
    if isinstance(verdict.stored, str):
        response.stored = verdict.stored
    return response


def passkey_verdict_from_proto(message: passkey_pb2.VerifyPasskeyResponse) -> Verdict:
    """The verdict :meth:`verifykit.passkey.PasskeyVerifier.verify` returns, ``stored`` included."""
    verdict = verdict_from_proto(message.verdict)
    return dataclasses.replace(verdict, stored=message.stored if message.HasField("stored") else None)
