"""The one error table: every library error has its status, and the client rebuilds the same
exception from the status details."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from verifykit import (
    BusyError,
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    DeliveryError,
    ImageError,
    InvalidInput,
    KeyringError,
    RateLimited,
    StoreUnavailable,
    TemplateError,
    VerifyKitError,
)
from verifykit.password import PolicyViolation
from verifykit.server._status import error_from_details, status_for

CASES: list[tuple[VerifyKitError, grpc.StatusCode]] = [
    (InvalidInput("bad subject", field="subject"), grpc.StatusCode.INVALID_ARGUMENT),
    (ImageError("not an image", field="image"), grpc.StatusCode.INVALID_ARGUMENT),
    (PolicyViolation("too short", rule="too_short"), grpc.StatusCode.INVALID_ARGUMENT),
    (TemplateError("does not open"), grpc.StatusCode.INVALID_ARGUMENT),
    (ChallengeNotFound("no such challenge"), grpc.StatusCode.NOT_FOUND),
    (ChallengeClosed("closed", status="approved"), grpc.StatusCode.FAILED_PRECONDITION),
    (
        RateLimited("slow down", retry_after=12.5, reason="destination_limit"),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    (BusyError("busy", retry_after=1.0), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailable("store down"), grpc.StatusCode.UNAVAILABLE),
    (DeliveryError("smtp down", temporary=True), grpc.StatusCode.UNAVAILABLE),
    (ConfigurationError("missing extra"), grpc.StatusCode.FAILED_PRECONDITION),
]


def details_of(
    status: grpc.Status,
) -> tuple[str, list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo]]:
    raw = dict(status.trailing_metadata)[rpc_status.GRPC_DETAILS_METADATA_KEY]
    assert isinstance(raw, bytes)
    proto = status_pb2.Status.FromString(raw)
    found: list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo] = []
    for detail in proto.details:
        for kind in (error_details_pb2.ErrorInfo, error_details_pb2.RetryInfo):
            if detail.Is(kind.DESCRIPTOR):
                message = kind()
                detail.Unpack(message)
                found.append(message)
    return proto.message, found


@pytest.mark.parametrize(
    ("error", "code"), CASES, ids=lambda c: type(c).__name__ if isinstance(c, Exception) else ""
)
def test_each_library_error_has_its_status_code(error: VerifyKitError, code: grpc.StatusCode) -> None:
    assert status_for(error).code is code


@pytest.mark.parametrize(
    ("error", "code"), CASES, ids=lambda c: type(c).__name__ if isinstance(c, Exception) else ""
)
def test_the_client_rebuilds_the_same_exception_from_the_details(
    error: VerifyKitError, code: grpc.StatusCode
) -> None:
    message, details = details_of(status_for(error))
    rebuilt = error_from_details(message, details)
    assert type(rebuilt) is type(error)
    assert rebuilt is not None and rebuilt.message == error.message
    for attribute in ("field", "rule", "status", "reason", "retry_after", "temporary"):
        assert getattr(rebuilt, attribute, None) == getattr(error, attribute, None), attribute


def test_retryable_refusals_carry_a_whole_second_retry_after_trailer_rounded_up() -> None:
    trailers = dict(status_for(RateLimited("slow down", retry_after=12.2)).trailing_metadata)
    assert trailers["retry-after"] == "13"
    assert "retry-after" not in dict(status_for(ChallengeNotFound("gone")).trailing_metadata)


@pytest.mark.parametrize(
    "error", [RuntimeError("boom with a secret 123456"), KeyringError("key k9 is missing")], ids=type
)
def test_faults_of_the_server_are_internal_and_say_nothing(error: Exception) -> None:
    status = status_for(error)
    assert (status.code, status.details) == (grpc.StatusCode.INTERNAL, "internal error")
    message, details = details_of(status)
    assert message == "internal error" and details == []
