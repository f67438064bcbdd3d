"""Library values <-> ``verifykit.v1`` messages. Used by the servicers and by the client, so the
two sides translate with the same code."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from google.protobuf import timestamp_pb2

from .._verdict import Fallback, Reason, Verdict
from ..otp import Challenge
from ..store import ChallengeStatus
from ._pb import common_pb2, email_otp_pb2

__all__ = [
    "challenge_from_proto",
    "challenge_to_proto",
    "enum_from_proto",
    "enum_to_proto",
    "verdict_from_proto",
    "verdict_to_proto",
]

E = TypeVar("E", bound=StrEnum)

# A library value maps to the proto member PREFIX_VALUE_IN_CAPITALS (wrong_code -> REASON_WRONG_CODE).
_PREFIX = {Reason: "REASON_", Fallback: "FALLBACK_", ChallengeStatus: "CHALLENGE_STATUS_"}
_PROTO_ENUMS = {
    Reason: common_pb2.Reason,
    Fallback: common_pb2.Fallback,
    ChallengeStatus: email_otp_pb2.ChallengeStatus,
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
        fallbacks=_fallbacks_to_proto(verdict.fallbacks),  # type: ignore[arg-type]
        upgraded_hash=verdict.stored if isinstance(verdict.stored, str) else "",
        details=details,
    )
    if verdict.attempts_left is not None:
        message.attempts_left = verdict.attempts_left
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
        fallbacks=_fallbacks_from_proto(message.fallbacks),
        stored=message.upgraded_hash or None,
        details=details,
    )


def _fallbacks_to_proto(fallbacks: Iterable[Fallback]) -> list[int]:
    return [n for n in (enum_to_proto(f) for f in fallbacks) if n]


def _fallbacks_from_proto(numbers: Iterable[int]) -> tuple[Fallback, ...]:
    return tuple(f for f in (enum_from_proto(Fallback, n) for n in numbers) if f is not None)


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
        fallbacks=_fallbacks_to_proto(challenge.fallbacks),  # type: ignore[arg-type]
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
        fallbacks=_fallbacks_from_proto(message.fallbacks),
    )
