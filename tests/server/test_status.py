"""The one error table: every library error has its status, and the client rebuilds the same
exception from the status details."""

from __future__ import annotations

import asyncio
import threading

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from verifykit import (
    AuditUnavailable,
    BusyError,
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    DeadlineExceeded,
    DeliveryError,
    ImageError,
    ImageTooCostly,
    InvalidInput,
    KeyringError,
    RateLimited,
    Reason,
    SidecarError,
    StoreUnavailable,
    TemplateError,
    VerifyKitError,
    WorkerLost,
    _errors,
)
from verifykit._wire import error_from_details, status_for
from verifykit.password import PolicyViolation
from verifykit.server._pool import HeavyGate

CASES: list[tuple[VerifyKitError, grpc.StatusCode]] = [
    (InvalidInput("bad subject", field="subject"), grpc.StatusCode.INVALID_ARGUMENT),
    (ImageError("not an image", field="image"), grpc.StatusCode.INVALID_ARGUMENT),
    (ImageTooCostly("too much memory", rule="memory"), grpc.StatusCode.INVALID_ARGUMENT),
    (WorkerLost("the worker ended", retry_after=1.5), grpc.StatusCode.UNAVAILABLE),
    (PolicyViolation("too short", reason=Reason.TOO_SHORT), grpc.StatusCode.INVALID_ARGUMENT),
    (TemplateError("does not open"), grpc.StatusCode.INVALID_ARGUMENT),
    (ChallengeNotFound("no such challenge"), grpc.StatusCode.NOT_FOUND),
    (ChallengeClosed("closed", status="approved"), grpc.StatusCode.FAILED_PRECONDITION),
    (
        RateLimited("slow down", retry_after=12.5, reason="destination_limit"),
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    ),
    (BusyError("busy", retry_after=1.0), grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailable("store down"), grpc.StatusCode.UNAVAILABLE),
    (AuditUnavailable("audit log not writable"), grpc.StatusCode.UNAVAILABLE),
    (DeliveryError("smtp down", temporary=True), grpc.StatusCode.UNAVAILABLE),
    (ConfigurationError("missing extra"), grpc.StatusCode.FAILED_PRECONDITION),
    (DeadlineExceeded("too slow"), grpc.StatusCode.DEADLINE_EXCEEDED),
    (SidecarError("upstream down", status="UNAVAILABLE", retry_after=2.0), grpc.StatusCode.UNAVAILABLE),
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


def test_every_error_of_the_hierarchy_has_a_status_case() -> None:
    hierarchy = {getattr(_errors, name) for name in _errors.__all__}
    # The root is never raised; a KeyringError is a fault of the server (see the INTERNAL test below).
    covered = {type(error) for error, _ in CASES} | {VerifyKitError, KeyringError}
    assert hierarchy - covered == set()


def test_heavy_work_past_its_deadline_raises_the_librarys_deadline_exceeded() -> None:
    gate = HeavyGate(workers=1, slots=2)
    release = threading.Event()

    async def queued_behind_a_held_worker() -> None:
        loop = asyncio.get_running_loop()
        holder = asyncio.ensure_future(
            gate.run(None, lambda: loop.run_in_executor(gate.executor, release.wait))
        )
        while gate.in_flight < 1:  # the holder has taken the only worker
            await asyncio.sleep(0)
        try:
            # The only worker is held, so this call is still queued when its deadline passes.
            await gate.run(0.01, lambda: loop.run_in_executor(gate.executor, lambda: None))
        finally:
            release.set()
            await holder

    try:
        with pytest.raises(DeadlineExceeded) as caught:
            asyncio.run(queued_behind_a_held_worker())
    finally:
        gate.shutdown()
    assert status_for(caught.value).code is grpc.StatusCode.DEADLINE_EXCEEDED


def test_a_gate_with_every_slot_taken_refuses_at_once_with_a_retry_delay() -> None:
    gate = HeavyGate(workers=1, slots=1)
    release = threading.Event()

    async def second_call_while_the_first_holds_the_slot() -> None:
        loop = asyncio.get_running_loop()
        holder = asyncio.ensure_future(
            gate.run(None, lambda: loop.run_in_executor(gate.executor, release.wait))
        )
        while gate.in_flight < 1:  # the first call has taken the slot
            await asyncio.sleep(0)
        try:
            await gate.run(None, lambda: loop.run_in_executor(gate.executor, lambda: None))
        finally:
            release.set()
            await holder

    try:
        with pytest.raises(BusyError) as caught:
            asyncio.run(second_call_while_the_first_holds_the_slot())
    finally:
        gate.shutdown()
    assert caught.value.retry_after > 0 and gate.in_flight == 0
