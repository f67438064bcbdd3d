"""The sidecar's request handling: random protobuf bytes as the body of each unary RPC, sent
with a valid token to a real grpc.aio server in this process.

The invariant over the wire: an answer, or a status other than UNKNOWN, INTERNAL or
DEADLINE_EXCEEDED (a crash, an unmapped error, a hang). An input is ``METHOD NUL BODY``, where
METHOD is ``Service/Method`` (any other bytes pick a method by their checksum), so seeds keep
their meaning when services are added.
"""

from __future__ import annotations

import zlib

import grpc
from google.protobuf import descriptor_pool

from verifykit import Keyring
from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, Sidecar, create_server

RSS_MB = 1024  # the face models load on the first face call
MAX_LEN = 64 * 1024
TIMEOUT = 30
_TOKEN = "fuzz-token-" + "x" * 16
_DEADLINE = 20.0
_FAILURES = frozenset({grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL, grpc.StatusCode.DEADLINE_EXCEEDED})


class _Running:
    def __init__(self) -> None:
        config = ServerConfig(
            listen="127.0.0.1:0",
            token=_TOKEN,
            password_preset="cheap_tests_only",
            access_log=False,
            audit_log=False,
            grace=0.0,
        )
        self.sidecar: Sidecar
        self.sidecar, port = create_server(config, Components(keyring=Keyring.generate(), mailer=Outbox()))
        self.sidecar.start()
        self.channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        pool = descriptor_pool.Default()
        self.methods: dict[str, grpc.UnaryUnaryMultiCallable] = {}
        for name in self.sidecar.services:
            service = pool.FindServiceByName(name)
            for method in service.methods:
                if method.client_streaming or method.server_streaming:
                    continue
                key = f"{service.name}/{method.name}"
                self.methods[key] = self.channel.unary_unary(
                    f"/{service.full_name}/{method.name}",
                    request_serializer=None,
                    response_deserializer=None,
                )
        self.keys = sorted(self.methods)

    def close(self) -> None:
        self.channel.close()
        self.sidecar.stop(0)


_running: _Running | None = None


def setup() -> _Running:
    """Start the sidecar once (the runner calls this before measuring the idle size)."""
    global _running
    if _running is None:
        _running = _Running()
    return _running


def close() -> None:
    """Stop the sidecar (before interpreter exit: its executors refuse work once exit begins)."""
    global _running
    if _running is not None:
        _running.close()
        _running = None


def TestOneInput(data: bytes) -> None:
    running = setup()
    name, _, body = data.partition(b"\x00")
    key = name.decode("ascii", "replace")
    if key not in running.methods:
        key = running.keys[zlib.crc32(name) % len(running.keys)]
    try:
        running.methods[key](body, timeout=_DEADLINE, metadata=(("authorization", f"Bearer {_TOKEN}"),))
    except grpc.RpcError as exc:
        code = exc.code()
        assert code not in _FAILURES, f"{key}: {code} {exc.details()}"
