"""Serving: health, reflection, TLS and mutual TLS, bearer tokens, message limits, malformed input,
busy and deadline handling, internal faults, access logs and metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import urllib.request
from concurrent.futures import Future
from email.message import EmailMessage
from typing import Any

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from sidecars import PKI, Running, Serve

from verifykit import BusyError, InvalidInput, Reason
from verifykit.client import Client, DeadlineExceeded, SidecarError
from verifykit.server import Components, ServerConfig, Sidecar, create_server
from verifykit.server._interceptors import AuthInterceptor, Recorder
from verifykit.testing import last_code

SERVICES = ["verifykit.v1.EmailOtpService", "verifykit.v1.PasswordService", "verifykit.v1.FaceService"]


def test_health_reports_serving_for_the_server_and_each_service(sidecar: Running) -> None:
    assert sidecar.client.health() == "SERVING"
    for service in SERVICES:
        assert sidecar.client.health(service) == "SERVING"


def test_reflection_lists_every_service(sidecar: Running) -> None:
    services = set(ProtoReflectionDescriptorDatabase(sidecar.client.channel).get_services())
    assert {*SERVICES, "grpc.health.v1.Health"} <= services


def test_reflection_describes_the_methods_by_their_proto_names(sidecar: Running) -> None:
    database = ProtoReflectionDescriptorDatabase(sidecar.client.channel)
    found = database.FindFileContainingSymbol("verifykit.v1.EmailOtpService")
    assert found.name == "verifykit/v1/email_otp.proto"
    assert [m.name for m in found.service[0].method] == [
        "StartEmailOtp",
        "CheckEmailOtp",
        "ResendEmailOtp",
        "CancelEmailOtp",
        "GetEmailOtpStatus",
    ]


def test_tls_serves_clients_that_trust_the_ca(serve: Serve, pki: PKI) -> None:
    running = serve(tls_cert=pki.server_cert, tls_key=pki.server_key)
    with running.connect(root_certificates=pki.ca) as client:
        assert client.email_otp.start("applicant-1", "ana@example.com").sends == 1


def test_tls_refuses_a_plaintext_client(serve: Serve, pki: PKI) -> None:
    running = serve(tls_cert=pki.server_cert, tls_key=pki.server_key)
    with running.connect(timeout=5) as client, pytest.raises(SidecarError) as caught:
        client.health()
    assert caught.value.status == "UNAVAILABLE"


def test_mutual_tls_accepts_a_client_certificate_from_the_trusted_ca(serve: Serve, pki: PKI) -> None:
    running = serve(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca_path)
    options = {
        "root_certificates": pki.ca,
        "certificate_chain": pki.client_cert,
        "private_key": pki.client_key,
    }
    with running.connect(**options) as client:
        assert client.health() == "SERVING"


@pytest.mark.parametrize("presented", ["none", "other_ca"])
def test_mutual_tls_refuses_clients_without_a_trusted_certificate(
    serve: Serve, pki: PKI, presented: str
) -> None:
    running = serve(tls_cert=pki.server_cert, tls_key=pki.server_key, tls_client_ca=pki.ca_path)
    options: dict[str, bytes] = {"root_certificates": pki.ca}
    if presented == "other_ca":
        options |= {"certificate_chain": pki.other_client_cert, "private_key": pki.other_client_key}
    with running.connect(timeout=5, **options) as client, pytest.raises(SidecarError) as caught:
        client.health()
    assert caught.value.status == "UNAVAILABLE"


TOKEN = "s3cret-token-for-tests-0123456789"


def test_a_configured_token_is_required_on_every_verifier_call(serve: Serve) -> None:
    running = serve(token=TOKEN)
    with pytest.raises(SidecarError) as caught:
        running.client.email_otp.start("applicant-1", "ana@example.com")
    assert caught.value.status == "UNAUTHENTICATED"
    with running.connect(token="wrong-token-0123456789") as client, pytest.raises(SidecarError):
        client.email_otp.start("applicant-1", "ana@example.com")
    assert len(running.outbox) == 0
    with running.connect(token=TOKEN) as client:
        assert client.email_otp.start("applicant-1", "ana@example.com").sends == 1


def test_health_checks_need_no_token(serve: Serve) -> None:
    running = serve(token=TOKEN)
    assert running.client.health() == "SERVING"


NOT_PROTOBUF = b"\xff\xff\xff\xff"


def raw_check(channel: grpc.Channel) -> grpc.UnaryUnaryMultiCallable:
    """CheckEmailOtp taking and returning bytes, so any body can be sent."""
    return channel.unary_unary(
        "/verifykit.v1.EmailOtpService/CheckEmailOtp",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token-0123456789"])
def test_a_call_without_the_token_is_refused_before_its_body_is_parsed(
    serve: Serve, authorization: str | None
) -> None:
    running = serve(token=TOKEN)
    metadata = [("authorization", authorization)] if authorization else None
    with pytest.raises(grpc.RpcError) as caught:
        raw_check(running.client.channel)(NOT_PROTOBUF, timeout=10, metadata=metadata)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


def test_the_same_body_with_the_token_reaches_the_parser(serve: Serve) -> None:
    running = serve(token=TOKEN)
    metadata = [("authorization", f"Bearer {TOKEN}")]
    with pytest.raises(grpc.RpcError) as caught:
        raw_check(running.client.channel)(NOT_PROTOBUF, timeout=10, metadata=metadata)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


class CountingParser:
    """A request deserializer that counts the bodies it was given."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, data: bytes) -> bytes:
        self.calls += 1
        return data


async def _echo(request: bytes, _context: Any) -> bytes:
    return request


def call_echo(parser: CountingParser, authorization: str | None) -> bytes:
    """One call to a bare gRPC server behind the sidecar's token check, whose one method echoes."""

    async def run() -> bytes:
        handler = grpc.unary_unary_rpc_method_handler(
            _echo, request_deserializer=parser, response_serializer=bytes
        )
        recorder = Recorder(metrics=None, access_log=True)
        server = grpc.aio.server(interceptors=[AuthInterceptor(TOKEN, recorder=recorder)])
        server.add_generic_rpc_handlers(
            [grpc.method_handlers_generic_handler("test.Echo", {"Echo": handler})]
        )
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                echo = channel.unary_unary(
                    "/test.Echo/Echo", request_serializer=bytes, response_deserializer=bytes
                )
                metadata = [("authorization", authorization)] if authorization else None
                return bytes(await echo(b"body", timeout=10, metadata=metadata))
        finally:
            await server.stop(0)

    return asyncio.run(run())


@pytest.mark.parametrize("authorization", [None, "Bearer nope-0123456789abcdef", TOKEN])
def test_the_token_check_keeps_unauthenticated_bodies_from_the_deserializer(
    authorization: str | None,
) -> None:
    parser = CountingParser()
    with pytest.raises(grpc.RpcError) as caught:
        call_echo(parser, authorization)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert parser.calls == 0


def test_the_token_check_passes_authenticated_bodies_to_the_deserializer() -> None:
    parser = CountingParser()
    assert call_echo(parser, f"Bearer {TOKEN}") == b"body"
    assert parser.calls == 1


def test_a_request_over_the_size_limit_is_refused_and_the_server_keeps_serving(serve: Serve) -> None:
    running = serve(max_message_bytes=64 * 1024)
    with pytest.raises(SidecarError) as caught:
        running.client.face.enroll("applicant-1", b"\xff" * (100 * 1024))
    assert caught.value.status == "RESOURCE_EXHAUSTED"
    assert running.client.health() == "SERVING"


def test_a_request_that_is_not_a_protobuf_message_is_invalid_argument(sidecar: Running) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        raw_check(sidecar.client.channel)(NOT_PROTOBUF, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def hold_heavy_slot(sidecar: Sidecar, release: threading.Event) -> Future[None]:
    """Occupy one heavy slot and one heavy thread until ``release`` is set, as a slow call would."""
    gate = sidecar.heavy

    async def hold() -> None:
        loop = asyncio.get_running_loop()
        await gate.run(None, lambda: loop.run_in_executor(gate.executor, release.wait))

    held = asyncio.run_coroutine_threadsafe(hold(), sidecar.loop)
    deadline = time.monotonic() + 10
    while gate.in_flight < 1:
        assert time.monotonic() < deadline, "the heavy slot was never taken"
        time.sleep(0.01)
    return held  # type: ignore[return-value]


def test_a_full_heavy_pool_answers_busy_with_a_retry_delay(serve: Serve) -> None:
    running = serve(heavy_workers=1, heavy_queue=0)
    release = threading.Event()
    held = hold_heavy_slot(running.sidecar, release)
    try:
        with pytest.raises(BusyError) as caught:
            running.client.face.enroll("applicant-1", b"not even looked at")
        assert caught.value.retry_after > 0
        # Fast calls are not held up by the full pool.
        assert running.client.email_otp.start("applicant-1", "ana@example.com").sends == 1
    finally:
        release.set()
        held.result(timeout=10)


def test_heavy_work_still_queued_when_the_deadline_passes_is_deadline_exceeded(serve: Serve) -> None:
    running = serve(heavy_workers=1, heavy_queue=1)
    release = threading.Event()
    held = hold_heavy_slot(running.sidecar, release)
    try:
        # A password hash: its work runs on the heavy threads, where the held call sits.
        with running.connect(timeout=0.5) as client, pytest.raises(DeadlineExceeded):
            client.password.hash("queued, never run, never hashed")
    finally:
        release.set()
        held.result(timeout=10)


class ExplodingMailer:
    def send(self, message: EmailMessage) -> None:
        raise RuntimeError(f"bug that quotes the message: {message.get_content()!r}")


def test_an_unexpected_fault_is_internal_with_no_details() -> None:
    sidecar, port = create_server(
        ServerConfig(listen="127.0.0.1:0", access_log=False, audit_log=False),
        Components(mailer=ExplodingMailer()),  # type: ignore[arg-type]
    )
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}") as client, pytest.raises(SidecarError) as caught:
            client.email_otp.start("applicant-1", "ana@example.com")
        assert caught.value.status == "INTERNAL"
        assert caught.value.message == "internal error"
    finally:
        sidecar.stop(0)


def test_each_call_leaves_one_json_access_line_without_secrets(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    running = serve(access_log=True)
    with caplog.at_level(logging.INFO, logger="verifykit.access"):
        challenge = running.client.email_otp.start("applicant-1", "ana@example.com")
        code = last_code(running.outbox)
        running.client.email_otp.check(challenge.id, code)
        with pytest.raises(InvalidInput):
            running.client.email_otp.check(challenge.id, "not a code")
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "verifykit.access"]
    assert [(line["method"], line["status"], line["reason"]) for line in lines] == [
        ("EmailOtpService/StartEmailOtp", "OK", None),
        ("EmailOtpService/CheckEmailOtp", "OK", "approved"),
        ("EmailOtpService/CheckEmailOtp", "INVALID_ARGUMENT", None),
    ]
    subject_tag = challenge.id.split(".")[0]
    assert {line["subject"] for line in lines} == {subject_tag}
    assert all(line["duration_ms"] >= 0 for line in lines)
    text = caplog.text
    for secret in (code, "applicant-1", "ana@example.com", "not a code"):
        assert secret not in text


def test_metrics_count_calls_verdicts_and_refusals(serve: Serve) -> None:
    running = serve(metrics_port=0)
    otp = running.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    otp.check(challenge.id, "000000" if last_code(running.outbox) != "000000" else "111111")
    with pytest.raises(Exception):
        otp.resend(challenge.id)
    url = f"http://127.0.0.1:{running.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    assert 'verifykit_grpc_calls_total{code="OK",method="EmailOtpService/StartEmailOtp"} 1.0' in text
    assert 'verifykit_verdicts_total{method="EmailOtpService/CheckEmailOtp",reason="wrong_code"} 1.0' in text
    refusal = 'method="EmailOtpService/ResendEmailOtp",reason="resend_cooldown"'
    assert f"verifykit_rate_limit_refusals_total{{{refusal}}} 1.0" in text
    assert "verifykit_grpc_call_duration_seconds_bucket" in text


def test_metrics_count_a_hard_lock_as_a_refusal(serve: Serve) -> None:
    running = serve(metrics_port=0, lockout_hard_cap=2)
    totp = running.client.totp
    enrollment = totp.enroll("applicant-1", "ana@example.com")
    for guess in ("000000", "999999"):  # the second wrong code reaches the hard cap of 2
        assert totp.verify("applicant-1", enrollment.stored, guess).reason is Reason.WRONG_CODE
    assert totp.verify("applicant-1", enrollment.stored, "123456").reason is Reason.HARD_LOCKED
    url = f"http://127.0.0.1:{running.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    refusal = 'method="TotpService/VerifyTotp",reason="hard_locked"'
    assert f"verifykit_rate_limit_refusals_total{{{refusal}}} 1.0" in text


WRONG_TOKEN = "wrong-token-guess-0123456789"
BODY_MARKER = b"body-marker-0123456789"


def refused_check(running: Running, authorization: str | None) -> None:
    """One CheckEmailOtp call the token check refuses; its body is marked so logs can be searched."""
    metadata = [("authorization", authorization)] if authorization else None
    with pytest.raises(grpc.RpcError) as caught:
        raw_check(running.client.channel)(BODY_MARKER, timeout=10, metadata=metadata)
    assert caught.value.code() is grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("authorization", [None, f"Bearer {WRONG_TOKEN}"])
def test_a_call_refused_for_its_token_leaves_one_access_line(
    serve: Serve, caplog: pytest.LogCaptureFixture, authorization: str | None
) -> None:
    running = serve(token=TOKEN, access_log=True)
    with caplog.at_level(logging.INFO, logger="verifykit.access"):
        refused_check(running, authorization)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "verifykit.access"]
    assert [(line["method"], line["status"], line["subject"], line["reason"]) for line in lines] == [
        ("EmailOtpService/CheckEmailOtp", "UNAUTHENTICATED", None, None)
    ]
    assert lines[0]["peer"].startswith("ipv4:127.0.0.1:")


def test_the_access_log_never_holds_a_token_nor_a_refused_body(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    running = serve(token=TOKEN, access_log=True)
    with caplog.at_level(logging.DEBUG):
        refused_check(running, f"Bearer {WRONG_TOKEN}")
        with running.connect(token=TOKEN) as client:
            client.email_otp.start("applicant-1", "ana@example.com")
    assert any(r.name == "verifykit.access" for r in caplog.records)
    for secret in (WRONG_TOKEN, TOKEN, BODY_MARKER.decode()):
        assert secret not in caplog.text


def test_metrics_count_calls_refused_for_their_token(serve: Serve) -> None:
    running = serve(token=TOKEN, metrics_port=0)
    refused_check(running, f"Bearer {WRONG_TOKEN}")
    refused_check(running, None)
    url = f"http://127.0.0.1:{running.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    labels = 'code="UNAUTHENTICATED",method="EmailOtpService/CheckEmailOtp"'
    assert f"verifykit_grpc_calls_total{{{labels}}} 2.0" in text
    assert WRONG_TOKEN not in text


def test_the_health_stub_sees_not_serving_once_the_sidecar_stops(serve: Serve) -> None:
    running = serve()
    stub = health_pb2_grpc.HealthStub(running.client.channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    threading.Thread(target=running.sidecar.stop, args=(2.0,)).start()
    assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
