"""What the sidecar and the client share on the wire: the ``verifykit.v1`` protos and their
generated code, the library <-> message converters, the error <-> status mapping and the
loopback rule. Both sides import it from here, so neither reaches into the other's internals.
"""

from __future__ import annotations

from pathlib import Path

from ._convert import (
    challenge_from_proto,
    challenge_to_proto,
    delivery_from_proto,
    delivery_to_proto,
    enum_from_proto,
    enum_to_proto,
    offer_from_proto,
    offer_to_proto,
    redemption_from_proto,
    redemption_to_proto,
    verdict_from_proto,
    verdict_to_proto,
    voucher_inspection_from_proto,
    voucher_inspection_to_proto,
    voucher_redemption_from_proto,
    voucher_redemption_to_proto,
)
from ._net import is_loopback_host, is_loopback_target
from ._pb import (
    common_pb2,
    email_otp_pb2,
    email_otp_pb2_grpc,
    face_pb2,
    face_pb2_grpc,
    ladder_pb2,
    ladder_pb2_grpc,
    password_pb2,
    password_pb2_grpc,
    recovery_pb2,
    recovery_pb2_grpc,
    totp_pb2,
    totp_pb2_grpc,
    voucher_pb2,
    voucher_pb2_grpc,
)
from ._status import ERROR_DOMAIN, RETRY_AFTER, Status, error_from_details, status_for

__all__ = [
    "ERROR_DOMAIN",
    "PROTO_ROOT",
    "RETRY_AFTER",
    "Status",
    "challenge_from_proto",
    "challenge_to_proto",
    "common_pb2",
    "delivery_from_proto",
    "delivery_to_proto",
    "email_otp_pb2",
    "email_otp_pb2_grpc",
    "enum_from_proto",
    "enum_to_proto",
    "error_from_details",
    "face_pb2",
    "face_pb2_grpc",
    "is_loopback_host",
    "is_loopback_target",
    "ladder_pb2",
    "ladder_pb2_grpc",
    "offer_from_proto",
    "offer_to_proto",
    "password_pb2",
    "password_pb2_grpc",
    "recovery_pb2",
    "recovery_pb2_grpc",
    "redemption_from_proto",
    "redemption_to_proto",
    "status_for",
    "totp_pb2",
    "totp_pb2_grpc",
    "verdict_from_proto",
    "verdict_to_proto",
    "voucher_inspection_from_proto",
    "voucher_inspection_to_proto",
    "voucher_pb2",
    "voucher_pb2_grpc",
    "voucher_redemption_from_proto",
    "voucher_redemption_to_proto",
]

# The .proto files ship inside the package: `-I PROTO_ROOT verifykit/v1/*.proto`.
PROTO_ROOT = Path(__file__).resolve().parent / "proto"
