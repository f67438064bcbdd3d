"""What a caller without the bearer token can make the sidecar do: be refused on its metadata,
before its body is received; learn nothing about which methods exist; and, through the one public
way in (health checks), make it hold at most one request body at a time."""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1.health import aio as health_aio
from sidecars import Serve, ServeProcess

from verifykit.server import ServerConfig
from verifykit.server._interceptors import UNKNOWN_METHOD, AuthInterceptor, Recorder

TOKEN = "s3cret-token-for-tests-0123456789"
BEARER = [("authorization", f"Bearer {TOKEN}")]
MiB = 1024 * 1024

CHECK_OTP = "/verifykit.v1.EmailOtpService/CheckEmailOtp"
ENROLL_FACE = "/verifykit.v1.FaceService/EnrollFace"
HEALTH_CHECK = "/grpc.health.v1.Health/Check"
REFLECTION = "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
UNKNOWN = {
    "unknown method": "/verifykit.v1.EmailOtpService/ExportEverything",
    "unknown service": "/verifykit.v1.AdminService/Shutdown",
    "unknown method of reflection": "/grpc.reflection.v1alpha.ServerReflection/Dump",
    "unknown method of health": "/grpc.health.v1.Health/Reset",
}


def raw_call(
    channel: grpc.Channel, method: str, body: bytes, metadata: list[tuple[str, str]] | None = None
) -> grpc.RpcError:
    """Call ``method`` with ``body`` as its message; return the error it must end with."""
    call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
    with pytest.raises(grpc.RpcError) as caught:
        call(body, timeout=10, metadata=metadata)
    return caught.value


# --- Method enumeration ---


@pytest.mark.parametrize(
    "method", [CHECK_OTP, REFLECTION, *UNKNOWN.values()], ids=["known", "reflection", *UNKNOWN]
)
def test_without_the_token_every_method_but_health_is_unauthenticated(serve: Serve, method: str) -> None:
    running = serve(token=TOKEN)
    error = raw_call(running.client.channel, method, b"")
    assert error.code() is grpc.StatusCode.UNAUTHENTICATED
    assert error.details() == "missing or wrong bearer token"


@pytest.mark.parametrize("method", UNKNOWN.values(), ids=UNKNOWN)
def test_a_wrong_token_gets_the_same_answer_for_unknown_and_known_methods(serve: Serve, method: str) -> None:
    running = serve(token=TOKEN)
    wrong = [("authorization", "Bearer wrong-token-0123456789")]
    known = raw_call(running.client.channel, CHECK_OTP, b"", wrong)
    unknown = raw_call(running.client.channel, method, b"", wrong)
    assert (unknown.code(), unknown.details()) == (known.code(), known.details())


@pytest.mark.parametrize("method", UNKNOWN.values(), ids=UNKNOWN)
def test_with_the_token_an_unknown_method_is_unimplemented(serve: Serve, method: str) -> None:
    running = serve(token=TOKEN)
    assert raw_call(running.client.channel, method, b"", BEARER).code() is grpc.StatusCode.UNIMPLEMENTED


def test_a_refused_unknown_method_is_logged_without_its_name(
    serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    running = serve(token=TOKEN, access_log=True)
    with caplog.at_level(logging.INFO, logger="verifykit.access"):
        raw_call(running.client.channel, '/verifykit.v1.X/"injected', b"")
    (line,) = [r.getMessage() for r in caplog.records if r.name == "verifykit.access"]
    assert f'"method":"{UNKNOWN_METHOD}","status":"UNAUTHENTICATED"' in line
    assert "injected" not in line


# --- Health checks, the public way in ---


def test_a_health_check_without_the_token_is_answered(serve: Serve) -> None:
    running = serve(token=TOKEN)
    stub = health_pb2_grpc.HealthStub(running.client.channel)
    answer = stub.Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert answer.status == health_pb2.HealthCheckResponse.SERVING


def test_a_health_watch_without_the_token_is_answered(serve: Serve) -> None:
    running = serve(token=TOKEN)
    stub = health_pb2_grpc.HealthStub(running.client.channel)
    watch = stub.Watch(health_pb2.HealthCheckRequest(), timeout=10)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


def test_a_health_check_without_the_token_larger_than_max_request_bytes_is_refused(serve: Serve) -> None:
    running = serve(token=TOKEN, max_request_bytes=4096)
    error = raw_call(running.client.channel, HEALTH_CHECK, b"\x0a" + b"x" * 8192)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


class _Silent:
    """A request stream that opens the call and then sends nothing until it is closed."""

    def __init__(self) -> None:
        self.closed = asyncio.Event()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._messages()

    async def _messages(self) -> AsyncIterator[bytes]:
        await self.closed.wait()
        return
        yield b""  # pragma: no cover - makes this an async generator


def test_a_health_check_whose_request_never_arrives_gives_its_read_slot_back() -> None:
    async def run() -> tuple[grpc.StatusCode, str]:
        recorder = Recorder(metrics=None, access_log=False)
        auth = AuthInterceptor(TOKEN, recorder=recorder, health_reads=1, read_seconds=0.2)
        server = grpc.aio.server(interceptors=[auth])
        health = health_aio.HealthServicer()
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                silent = _Silent()
                stalled = channel.stream_unary(HEALTH_CHECK)(silent, timeout=30)
                with pytest.raises(grpc.RpcError) as caught:
                    await stalled
                silent.closed.set()
                check = health_pb2_grpc.HealthStub(channel).Check
                answer = await check(health_pb2.HealthCheckRequest(), timeout=10)
                return caught.value.code(), health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
        finally:
            await server.stop(0)

    code, status = asyncio.run(run())
    assert code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert status == "SERVING"


# --- Request sizes per method ---


def test_a_request_over_max_request_bytes_is_refused_before_it_is_parsed(serve: Serve) -> None:
    running = serve(token=TOKEN, max_request_bytes=4096)
    error = raw_call(running.client.channel, CHECK_OTP, b"\x0a" + b"x" * 8192, BEARER)
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED


def test_a_face_photo_may_be_larger_than_max_request_bytes(serve: Serve) -> None:
    running = serve(token=TOKEN, max_request_bytes=4096)
    photo = b"\x12\x80\x40" + b"\xff" * 8192  # field 2 (image), 8192 bytes
    error = raw_call(running.client.channel, ENROLL_FACE, photo, BEARER)
    # Parsed and refused for what it holds, not for its size.
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_the_bounds_are_on_by_default() -> None:
    config = ServerConfig()
    assert config.max_request_bytes == 64 * 1024
    assert config.max_concurrent_rpcs == 256
    assert config.max_streams_per_connection == 1024
    assert config.health_reads == 1
    assert config.http2_bdp_probe is False


# --- Memory under a flood of large unauthenticated requests ---

FLOOD_CALLS = 64
FLOOD_BYTES = 15 * MiB
GROWTH_LIMIT_MIB = 128


def peak_rss_mib(pid: int) -> int:
    """The process's peak resident set (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    assert found is not None
    return int(found.group(1)) // 1024


def flood(target: str, method: str) -> Counter[str]:
    """FLOOD_CALLS calls of FLOOD_BYTES each, all at once, without a token; their status codes."""
    body = b"\x0a" + b"\xff" * FLOOD_BYTES  # a length-delimited field that never ends
    with grpc.insecure_channel(
        target, options=[("grpc.max_send_message_length", 2 * FLOOD_BYTES)]
    ) as channel:
        call = channel.unary_unary(method, request_serializer=None, response_deserializer=None)
        futures = [call.future(body, timeout=60) for _ in range(FLOOD_CALLS)]
        codes = Counter(future.code().name for future in futures)
    return codes


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "refused_with"),
    [
        (CHECK_OTP, "UNAUTHENTICATED"),
        (UNKNOWN["unknown service"], "UNAUTHENTICATED"),
        (HEALTH_CHECK, "RESOURCE_EXHAUSTED"),
    ],
    ids=["known method", "unknown method", "health check"],
)
def test_large_requests_without_the_token_barely_grow_the_sidecar(
    serve_process: ServeProcess, method: str, refused_with: str
) -> None:
    process = serve_process(
        env={"VERIFYKIT_TOKEN": TOKEN, "VERIFYKIT_AUDIT_LOG": "0", "VERIFYKIT_ACCESS_LOG": "0"}
    )
    with grpc.insecure_channel(process.target) as channel:  # served once, so start-up is not counted
        health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    before = peak_rss_mib(process.proc.pid)
    codes = flood(process.target, method)
    growth = peak_rss_mib(process.proc.pid) - before
    assert codes == Counter({refused_with: FLOOD_CALLS})
    assert growth <= GROWTH_LIMIT_MIB, f"the sidecar grew by {growth} MiB"
    assert process.stop() == 0
