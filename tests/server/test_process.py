"""``verifykit serve`` as a real process: it serves on its defaults, logs JSON lines, and drains on
SIGTERM (health goes NOT_SERVING, in-flight calls finish, new ones are refused, exit status 0)."""

from __future__ import annotations

import json
import signal
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import cv2
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from sidecars import REPO, ServeProcess

from verifykit import Reason
from verifykit.client import Client, SidecarError
from verifykit.testing import code_in

PHOTO = REPO / "src" / "verifykit" / "_data" / "photos" / "eileen_collins.jpg"
# How long a wait for the sidecar may take before it counts as stuck: far beyond what any step
# takes, so only a hang reaches it, however loaded the machine is.
PATIENCE = 120.0


def newest_code(folder: Path) -> str:
    newest = max(folder.glob("*.eml"), key=lambda p: p.name)
    message = message_from_bytes(newest.read_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    return code_in(message)


def test_the_command_serves_the_otp_flow_and_logs_json_lines(
    serve_process: ServeProcess, tmp_path: Path
) -> None:
    mail = tmp_path / "mail"
    process = serve_process("--mailer", f"file:{mail}", env={"VERIFYKIT_AUDIT_LOG": "false"})
    with Client(process.target) as client:
        challenge = client.email_otp.start("applicant-1", "ana@example.com")
        code = newest_code(mail)
        assert client.email_otp.check(challenge.id, code).reason is Reason.APPROVED
    process.proc.send_signal(signal.SIGTERM)
    assert process.proc.wait(timeout=PATIENCE) == 0
    log = process.log.read_text()
    records = [json.loads(line) for line in log.splitlines()]  # every line of stderr is JSON
    access = [r for r in records if r["logger"] == "verifykit.access"]
    assert [(r["method"], r["status"]) for r in access] == [
        ("EmailOtpService/StartEmailOtp", "OK"),
        ("EmailOtpService/CheckEmailOtp", "OK"),
    ]
    assert code not in log
    assert "ana@example.com" not in log


def big_photo() -> bytes:
    """The sample portrait enlarged to about 12 MP, so a face enrolment takes a noticeable time."""
    image = cv2.imread(str(PHOTO))
    assert image is not None
    large = cv2.resize(image, (4000, 3000), interpolation=cv2.INTER_CUBIC)
    ok, data = cv2.imencode(".png", large)
    assert ok
    return np.asarray(data).tobytes()


@pytest.mark.slow
def test_sigterm_drains_in_flight_calls_then_exits_zero(serve_process: ServeProcess) -> None:
    # The grace is a bound on the drain, not its length: the sidecar exits once the calls are done.
    flags = ("--heavy-workers", "1", "--heavy-queue", "4", "--grace", str(PATIENCE), "--no-audit-log")
    process = serve_process(*flags)
    photo = big_photo()
    with Client(process.target, timeout=PATIENCE) as client, ThreadPoolExecutor(4) as pool:
        watch = health_pb2_grpc.HealthStub(client.channel).Watch(
            health_pb2.HealthCheckRequest(), timeout=PATIENCE
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        in_flight = [pool.submit(client.face.enroll, f"applicant-{n}", photo) for n in range(4)]
        # One enrolment at a time on one heavy worker: once the first is done, the server has
        # been busy with them for a whole enrolment, and the other three wait their turn there.
        done, _ = wait(in_flight, timeout=PATIENCE, return_when=FIRST_COMPLETED)
        assert done, f"no enrolment finished within {PATIENCE} s"
        assert not all(f.done() for f in in_flight)
        process.proc.send_signal(signal.SIGTERM)
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        # New calls are refused once the server stops accepting: UNAVAILABLE, or CANCELLED for one
        # that reached the server in the instant it stopped (it never reached a handler). One that
        # slips in between the health change and the stop is served in full.
        refused: SidecarError | None = None
        deadline = time.monotonic() + PATIENCE
        while refused is None and time.monotonic() < deadline:
            try:
                client.email_otp.start(f"latecomer-{time.monotonic_ns()}", "late@example.com")
            except SidecarError as error:
                refused = error
            time.sleep(0.05)
        assert refused is not None and refused.status in {"UNAVAILABLE", "CANCELLED"}
        results = [f.result(timeout=PATIENCE) for f in in_flight]
    assert all(r.reason is Reason.APPROVED for r in results)
    assert process.proc.wait(timeout=PATIENCE) == 0


def test_the_command_reads_the_toml_file_and_variables_win_over_it(
    serve_process: ServeProcess, tmp_path: Path
) -> None:
    config = tmp_path / "verifykit.toml"
    config.write_text(
        'access_log = false\naudit_log = false\nmailer = "file:' + str(tmp_path / "mail") + '"\n'
    )
    quiet = serve_process("--config", str(config))
    with Client(quiet.target) as client:
        client.email_otp.start("applicant-1", "ana@example.com")
    assert quiet.stop() == 0
    assert "verifykit.access" not in quiet.log.read_text()
    assert len(list((tmp_path / "mail").glob("*.eml"))) == 1  # the file's mailer

    logged = serve_process("--config", str(config), env={"VERIFYKIT_ACCESS_LOG": "true"})
    with Client(logged.target) as client:
        client.email_otp.start("applicant-2", "ana@example.com")
    assert logged.stop() == 0
    assert '"method":"EmailOtpService/StartEmailOtp"' in logged.log.read_text()
