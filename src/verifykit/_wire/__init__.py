"""What the sidecar and the client share on the wire: the ``verifykit.v1`` protos and their
generated code, the library <-> message converters, the error <-> status mapping and the
loopback rule. Both sides import it from here, so neither reaches into the other's internals.
"""

from __future__ import annotations

from pathlib import Path

from ._convert import (
    challenge_from_proto,
    challenge_to_proto,
    enum_from_proto,
    enum_to_proto,
    verdict_from_proto,
    verdict_to_proto,
)
from ._net import is_loopback_host, is_loopback_target
from ._pb import (
    common_pb2,
    email_otp_pb2,
    email_otp_pb2_grpc,
    face_pb2,
    face_pb2_grpc,
    password_pb2,
    password_pb2_grpc,
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
    "email_otp_pb2",
    "email_otp_pb2_grpc",
    "enum_from_proto",
    "enum_to_proto",
    "error_from_details",
    "face_pb2",
    "face_pb2_grpc",
    "is_loopback_host",
    "is_loopback_target",
    "password_pb2",
    "password_pb2_grpc",
    "status_for",
    "verdict_from_proto",
    "verdict_to_proto",
]

# The .proto files ship inside the package: `-I PROTO_ROOT verifykit/v1/*.proto`.
PROTO_ROOT = Path(__file__).resolve().parent / "proto"
