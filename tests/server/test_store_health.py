"""The sidecar's health follows its store: while the store does not answer, the server ("") and
every service that needs the store report NOT_SERVING, and the log says once where the store is
and why it does not answer (never its password); once it answers again, SERVING again."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from sidecars import Running, Serve, ServeProcess

from redis_servers import RedisProcess
from verifykit import Keyring, StoreUnavailable
from verifykit.aio import AsyncChallengeStore, open_store
from verifykit.client import Client

PASSWORD = "pw-Zq8vX1-never-shown"
DEADLINE = 30.0


def eventually(what: str, condition: Callable[[], bool]) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {DEADLINE:.0f} s", pytrace=False)
        time.sleep(0.05)


def _answers(port: int) -> bool:
    client = redis.Redis(port=port, password=PASSWORD, socket_timeout=1.0)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture
def store_server(tmp_path: Path) -> Iterator[RedisProcess]:
    """A Redis server of this test's own, with a password, that the test stops and restarts."""
    server = RedisProcess(tmp_path, None, "--requirepass", PASSWORD, "--appendonly", "no")
    server.start(wait=False)
    eventually(f"redis-server on port {server.port} answered", lambda: _answers(server.port))
    yield server
    server.stop()


class PingCounter:
    """Counts the sidecar's looks at its store (so a test can wait for several, never sleep)."""

    def __init__(self, store: object) -> None:
        self.count = 0
        ping = store.ping  # type: ignore[attr-defined]

        async def counted() -> None:
            self.count += 1
            await ping()

        store.ping = counted  # type: ignore[attr-defined]


@pytest.fixture
def on_store(serve: Serve, store_server: RedisProcess) -> tuple[Running, PingCounter]:
    """A sidecar on ``store_server`` (password in the URL), and a count of its store pings."""
    store = open_store(f"redis://:{PASSWORD}@127.0.0.1:{store_server.port}/0?socket_timeout=0.5")
    pings = PingCounter(store)
    return serve(store=store), pings


def _health(running: Running) -> dict[str, str]:
    return {name: running.client.health(name) for name in ["", *running.sidecar.services]}


def _all(running: Running, status: str) -> Callable[[], bool]:
    return lambda: set(_health(running).values()) == {status}


def _store_logs(caplog: pytest.LogCaptureFixture, phrase: str) -> list[str]:
    messages = [r.getMessage() for r in caplog.records if r.name == "verifykit.server"]
    return [message for message in messages if phrase in message]


def test_every_service_is_not_serving_while_the_store_does_not_answer(
    on_store: tuple[Running, PingCounter], store_server: RedisProcess
) -> None:
    running, _ = on_store
    assert set(_health(running).values()) == {"SERVING"}
    store_server.stop()
    eventually("every service went NOT_SERVING", _all(running, "NOT_SERVING"))
    assert running.sidecar.services  # the verifier services, not only the server's ""


def test_every_service_is_serving_again_once_the_store_answers(
    on_store: tuple[Running, PingCounter], store_server: RedisProcess
) -> None:
    running, _ = on_store
    store_server.stop()
    eventually("every service went NOT_SERVING", _all(running, "NOT_SERVING"))
    store_server.start(wait=False)  # the same port
    eventually(f"redis-server on port {store_server.port} answered", lambda: _answers(store_server.port))
    eventually("every service went back to SERVING", _all(running, "SERVING"))


def test_the_log_names_the_store_and_the_cause_once_per_change_never_the_password(
    on_store: tuple[Running, PingCounter], store_server: RedisProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="verifykit.server")
    running, pings = on_store
    store_server.stop()
    eventually("the sidecar went NOT_SERVING", lambda: running.client.health() == "NOT_SERVING")
    looked = pings.count
    eventually("the sidecar looked at the store three more times", lambda: pings.count >= looked + 3)
    store_server.start(wait=False)
    eventually("the sidecar went back to SERVING", lambda: running.client.health() == "SERVING")
    looked = pings.count
    eventually("the sidecar looked at the store three more times", lambda: pings.count >= looked + 3)

    (down,) = _store_logs(caplog, "does not answer")
    assert f"127.0.0.1:{store_server.port}" in down
    assert "ConnectionError" in down  # the cause, as the driver names it
    (up,) = _store_logs(caplog, "answers again")
    assert f"127.0.0.1:{store_server.port}" in up
    assert PASSWORD not in caplog.text


def _dead_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # closed again: nothing listens there


def test_the_async_store_answers_a_ping_on_every_backend(
    store_url: str, make_async_store: Callable[..., AsyncChallengeStore]
) -> None:
    store = make_async_store(store_url)

    async def ping() -> None:
        async with store:
            await store.ping()  # type: ignore[attr-defined]

    asyncio.run(ping())


@pytest.mark.parametrize("scheme", ["redis", "redis+cluster"])
def test_a_ping_that_gets_no_answer_names_where_the_store_is_and_why(scheme: str) -> None:
    port = _dead_port()
    store = open_store(f"{scheme}://:{PASSWORD}@127.0.0.1:{port}?socket_timeout=0.5")

    async def ping() -> None:
        async with store:
            await store.ping()  # type: ignore[attr-defined]

    with pytest.raises(StoreUnavailable, match=f"at 127.0.0.1:{port} does not answer: .*Error") as refusal:
        asyncio.run(ping())
    assert PASSWORD not in str(refusal.value)


def test_a_sidecar_whose_store_is_down_at_start_is_never_serving(serve: Serve) -> None:
    running = serve(store=open_store(f"redis://127.0.0.1:{_dead_port()}/0?socket_timeout=0.5"))
    assert set(_health(running).values()) == {"NOT_SERVING"}


def test_verifykit_serve_logs_where_the_store_is_and_why_it_does_not_answer(
    serve_process: ServeProcess,
) -> None:
    port = _dead_port()
    process = serve_process(
        "--store", f"redis://127.0.0.1:{port}/0",
        "--mailer", "smtp://smtp.example.org:587",
        "--no-audit-log",
        env={"VERIFYKIT_KEYS": Keyring.new_keyring_string()},
    )  # fmt: skip
    with Client(process.target, timeout=10) as client:
        assert client.health() == "NOT_SERVING"
    assert process.stop() == 0
    lines = [line for line in process.log.read_text().splitlines() if "does not answer" in line]
    # Once per server process (one per CPU by default with Redis), each line naming its own.
    assert lines and len({json.loads(line)["pid"] for line in lines}) == len(lines)
    assert all(f"127.0.0.1:{port}" in line and "ConnectionError" in line for line in lines)
