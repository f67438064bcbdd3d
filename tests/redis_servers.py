"""Real redis-server processes on loopback for the tests: free ports, waiting for readiness, and
servers the tests start, kill and restart themselves (the Redis Cluster fixtures and the fault suite).
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["STARTUP_TIMEOUT", "RedisProcess", "redis_binaries"]

STARTUP_TIMEOUT = 30.0


def _ping(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        client.ping()
    finally:
        client.close()


def _free_port() -> int:
    """A loopback port that is free, and whose cluster bus port (port + 10000) is free too."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    pytest.fail("found no free loopback port pair for a Redis Cluster node", pytrace=False)


def _wait_until(what: str, ready: Callable[[], bool], timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except Exception as exc:
            last = exc
        time.sleep(0.05)
    pytest.fail(f"{what} within {timeout:.0f} s (last error: {last!r})", pytrace=False)


def _cluster_ok(port: int) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2.0)
    try:
        info = client.execute_command("CLUSTER", "INFO")
    finally:
        client.close()
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text


def _pinged(port: int) -> bool:
    _ping(f"redis://127.0.0.1:{port}/0")
    return True


def redis_binaries() -> tuple[str, str]:
    """redis-server and redis-cli, or fail saying how to install them."""
    server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
    if server is None or cli is None:
        pytest.fail(
            "redis-server and redis-cli are needed; install them (Debian: apt-get install redis-server) "
            "or `make services`",
            pytrace=False,
        )
    return server, cli


class RedisProcess:
    """A redis-server of the test's own on ``port``: started, killed (-9) and restarted in place."""

    def __init__(self, workdir: Path, port: int | None = None, *args: str) -> None:
        self.server, self.cli = redis_binaries()
        self.workdir = workdir
        self.port = port if port is not None else _free_port()
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, wait: bool = True) -> RedisProcess:
        with (self.workdir / f"redis-{self.port}.log").open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir),
                    "--daemonize", "no", "--save", "", *self.args,
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        if wait:
            _wait_until(f"redis-server on port {self.port} did not start", lambda: _pinged(self.port))
        return self

    def kill(self) -> None:
        """kill -9: no shutdown, no final save; what it had not written is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
