"""``verifykit serve --processes N``: N server processes on one port over a shared store, supervised
by a parent that restarts a child that ends, drains them all on SIGTERM, and serves one metrics
scrape for them all. Which process answered a call shows in its access log line (``pid``)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import grpc
import pytest
from aiosmtpd.controller import Controller
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sidecars import ServeProcess

from polling import wait_for
from smtp_servers import free_port
from verifykit import ConfigurationError, Keyring
from verifykit._wire import email_otp_pb2, email_otp_pb2_grpc
from verifykit.cli import main
from verifykit.server import ServerConfig, load_config
from verifykit.server._config import _cpus
from verifykit.server._process import SidecarProcess
from verifykit.server._processes import child_config

# How long a wait may take before it counts as stuck: far beyond any step, for a loaded machine.
PATIENCE = 120.0
START = "EmailOtpService/StartEmailOtp"


@pytest.fixture
def shared_env(redis_url: str) -> dict[str, str]:
    return {
        "VERIFYKIT_STORE": redis_url,
        "VERIFYKIT_NAMESPACE": f"vkt{uuid.uuid4().hex[:12]}",
        "VERIFYKIT_KEYS": Keyring.new_keyring_string(),
        "VERIFYKIT_AUDIT_LOG": "false",
    }


def records(process: SidecarProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in process.log.read_text().splitlines() if line.startswith("{")]


def served_by(process: SidecarProcess, method: str = START) -> Counter[int]:
    """How many calls of ``method`` each process answered, from the access log."""
    return Counter(
        r["pid"] for r in records(process) if r["logger"] == "verifykit.access" and r["method"] == method
    )


def children(process: SidecarProcess) -> list[int]:
    found = re.search(r"server processes \(pids ([\d, ]+)\)", process.log.read_text())
    assert found, process.log.read_text()[-2000:]
    return [int(pid) for pid in found.group(1).split(", ")]


def metrics_port(process: SidecarProcess) -> int:
    found = re.search(r"metrics on port (\d+)", process.log.read_text())
    assert found
    return int(found.group(1))


def scrape(port: int, name: str, **labels: str) -> float:
    """The value of one sample of the parent's metrics (0 when absent)."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=PATIENCE).read().decode()
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        head, _, rest = sample.partition("{")
        if head == name and ",".join(sorted(rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def own_channel(target: str) -> grpc.Channel:
    """A channel with a connection of its own (gRPC otherwise shares one per target in a process),
    so the kernel picks a server process for it afresh."""
    return grpc.insecure_channel(target, options=[("grpc.use_local_subchannel_pool", 1)])


def start_otp(target: str, n: int) -> str:
    """One email code started on a channel of its own, after a health check there; the status."""
    with own_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=PATIENCE)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        stub = email_otp_pb2_grpc.EmailOtpServiceStub(channel)
        request = email_otp_pb2.StartEmailOtpRequest(subject=f"applicant-{n}", email=f"a{n}@example.com")
        stub.StartEmailOtp(request, timeout=PATIENCE)
        return "OK"


# -- the configuration -------------------------------------------------------------------------


def test_the_memory_store_with_several_processes_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigurationError, match="processes 2 needs a shared store: with memory://"):
        load_config({"processes": 2}, environ={})
    assert main(["serve", "--listen", "127.0.0.1:0", "--processes", "2"]) == 2
    assert "memory://" in capsys.readouterr().err


def test_one_process_for_the_memory_store_and_one_per_core_for_a_shared_one() -> None:
    assert ServerConfig().process_count == 1
    shared = ServerConfig(store="redis://127.0.0.1:6379/0")
    assert shared.process_count == _cpus()
    assert ServerConfig(store="redis://127.0.0.1:6379/0", processes=3).process_count == 3
    with pytest.raises(ConfigurationError, match="processes must be between 1 and 1024"):
        ServerConfig(store="redis://127.0.0.1:6379/0", processes=0)


def test_each_process_gets_its_share_of_the_cores_unless_heavy_workers_is_set() -> None:
    four = ServerConfig(listen="127.0.0.1:0", store="redis://127.0.0.1:6379/0", processes=4)
    child = child_config(four, 50123)
    assert (child.listen, child.processes, child.heavy_workers) == (
        "127.0.0.1:50123",
        1,
        max(1, _cpus() // 4),
    )
    assert (
        child_config(ServerConfig(store="redis://h:6379/0", processes=4, heavy_workers=3), 1).heavy_workers
        == 3
    )


# -- serving -----------------------------------------------------------------------------------


def test_two_processes_share_one_port_and_one_scrape_counts_the_calls_of_both(
    serve_process: ServeProcess, shared_env: dict[str, str], tmp_path: Path
) -> None:
    """The call series and the domain series (counted from each process's audit events) alike."""
    process = serve_process(
        "--processes", "2", "--metrics-port", "0", "--face-workers", "thread",
        "--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer",
        env=shared_env,
    )  # fmt: skip
    pids = children(process)
    calls = 32  # each on a connection of its own: all on one process has odds of 2 ** -31
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(lambda n: start_otp(process.target, n), range(calls))) == ["OK"] * calls
    served = wait_for(lambda: (s := served_by(process)).total() == calls and s, "an access line per call")
    assert set(served) == set(pids), served  # both processes answered, and only they
    assert scrape(metrics_port(process), "verifykit_grpc_calls_total", method=START, code="OK") == calls
    # One histogram, summed: every call counted once, whichever process took it.
    count = scrape(metrics_port(process), "verifykit_grpc_call_duration_seconds_count", method=START)
    assert count == calls
    assert scrape(metrics_port(process), "verifykit_starts_total", way="email_code") == calls
    sent = scrape(metrics_port(process), "verifykit_deliveries_total", way="email_code", status="sent")
    assert sent == calls
    assert process.stop(PATIENCE) == 0


def test_a_killed_process_is_replaced_and_the_port_keeps_answering(
    serve_process: ServeProcess, shared_env: dict[str, str], tmp_path: Path
) -> None:
    process = serve_process(
        "--processes", "2", "--metrics-port", "0", "--heavy-workers", "1",
        "--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer",
        env=shared_env,
    )  # fmt: skip
    port = metrics_port(process)
    alive = "verifykit_face_workers_alive"
    wait_for(lambda: scrape(port, alive) == 2, "a face worker alive in each process")
    assert scrape(port, "verifykit_server_processes") == 2
    victim, survivor = children(process)
    os.kill(victim, signal.SIGKILL)
    wait_for(
        lambda: f"(pid {victim}) ended (signal SIGKILL)" in process.log.read_text(), "the parent to see it"
    )
    # Its socket is gone with it: every new connection reaches the survivor.
    for n in range(8):
        assert start_otp(process.target, n) == "OK"
    assert served_by(process)[victim] == 0
    found = wait_for(
        lambda: re.search(r"server process \d started again \(pid (\d+)\)", process.log.read_text()),
        "a replacement",
    )
    replacement = int(found.group(1))
    assert replacement not in {victim, survivor}
    # New connections reach the replacement too, once it listens (each has even odds).
    calls = iter(range(8, 10_000))
    wait_for(
        lambda: start_otp(process.target, next(calls)) and served_by(process)[replacement] > 0,
        "a call answered by the replacement",
        deadline=PATIENCE,
    )
    # Gauges sum the live processes only: the killed one no longer counts, nor does its worker.
    assert scrape(port, "verifykit_server_processes") == 2
    wait_for(lambda: scrape(port, alive) == 2, "a face worker alive in each process again")
    assert process.stop(PATIENCE) == 0


class GatedMail:
    """An SMTP handler that holds every message until ``release`` is set: the calls that send
    them stay in flight as long as the test wants."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.held = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.held += 1
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        return "250 Message accepted"


@pytest.fixture
def gated_mail() -> Iterator[tuple[GatedMail, int]]:
    handler, port = GatedMail(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    handler.release.set()
    controller.stop()


def test_sigterm_drains_the_calls_in_flight_in_every_process_then_exits_zero(
    serve_process: ServeProcess, shared_env: dict[str, str], gated_mail: tuple[GatedMail, int]
) -> None:
    mail, smtp_port = gated_mail
    process = serve_process(
        "--processes", "2", "--face-workers", "thread", "--grace", str(PATIENCE),
        "--mailer", f"smtp://127.0.0.1:{smtp_port}?security=none",
        env=shared_env,
    )  # fmt: skip
    pids = children(process)
    calls = 8
    with ThreadPoolExecutor(calls) as pool:
        in_flight = [pool.submit(start_otp, process.target, n) for n in range(calls)]
        wait_for(lambda: mail.held >= calls, "every call to be sending its message")
        assert not any(f.done() for f in in_flight)
        process.proc.send_signal(signal.SIGTERM)
        draining = "SIGTERM received: draining for up to"
        wait_for(
            lambda: {r["pid"] for r in records(process) if draining in r.get("message", "")} >= set(pids),
            "every process to start draining",
        )
        mail.release.set()
        assert [f.result(timeout=PATIENCE) for f in in_flight] == ["OK"] * calls
    assert process.proc.wait(timeout=PATIENCE) == 0
    assert served_by(process).total() == calls
    assert "every server process drained" in process.log.read_text()


def command_env(shared_env: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}, **shared_env}


def test_a_process_that_cannot_start_stops_the_others_and_exits_non_zero(
    shared_env: dict[str, str], tmp_path: Path
) -> None:
    missing = tmp_path / "missing.pem"
    run = subprocess.run(
        [sys.executable, "-m", "verifykit", "serve", "--listen", "127.0.0.1:0", "--processes", "2",
         "--tls-cert", str(missing), "--tls-key", str(missing), "--mailer", "smtp://127.0.0.1:2525"],
        env=command_env(shared_env),
        capture_output=True,
        text=True,
        timeout=PATIENCE,
    )  # fmt: skip
    assert run.returncode != 0
    assert "cannot read" in run.stderr and "could not start" in run.stderr
    assert "listening on" not in run.stderr


def test_a_port_held_by_several_processes_is_refused_to_another_sidecar(
    serve_process: ServeProcess, shared_env: dict[str, str], tmp_path: Path
) -> None:
    mail = ("--mailer", f"file:{tmp_path / 'mail'}", "--insecure-dev-mailer", "--face-workers", "thread")
    first = serve_process("--processes", "2", *mail, env=shared_env)
    for processes in ("2", "1"):
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "verifykit",
                "serve",
                "--listen",
                first.target,
                "--processes",
                processes,
                *mail,
            ],
            env=command_env(shared_env),
            capture_output=True,
            text=True,
            timeout=PATIENCE,
        )  # fmt: skip
        assert run.returncode == 2 and "cannot listen" in run.stderr, run.stderr[-2000:]
    assert first.stop(PATIENCE) == 0
