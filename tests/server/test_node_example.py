"""The Node.js examples (@grpc/grpc-js) run the email OTP flow and the whole ladder against a real sidecar."""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess

import pytest
from sidecars import REPO, Running, Serve

from verifykit.server._app import open_mailer
from verifykit.testing import last_code

EXAMPLE = REPO / "examples" / "node"


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are not installed; the Node.js example runs where they are")
    if not (EXAMPLE / "node_modules" / "@grpc" / "grpc-js").is_dir():
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=EXAMPLE, check=True, timeout=300
        )
    return node


def run_example(node: str, sidecar: Running, answer: str | None) -> tuple[int, list[dict[str, object]], str]:
    """Run the example, typing the code that was sent (``answer`` None) or a wrong one."""
    proc = subprocess.Popen(
        [
            node,
            "email_otp.mjs",
            "--target",
            sidecar.target,
            "--subject",
            "applicant-7",
            "--email",
            "ana@example.com",
        ],
        cwd=EXAMPLE,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    first = json.loads(proc.stdout.readline())
    code = last_code(sidecar.outbox)
    typed = code if answer is None else f"{(int(code) + 1) % 10**6:06d}"
    proc.stdin.write(typed + "\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=60)
    return proc.returncode, [first, *(json.loads(line) for line in out.splitlines())], err


def test_the_node_client_starts_and_checks_the_right_code(node: str, sidecar: Running) -> None:
    status, steps, err = run_example(node, sidecar, None)
    assert status == 0, err
    started = steps[0]
    assert (started["step"], started["destination"], started["delivery"]) == (
        "started",
        "a***@example.com",
        "DELIVERY_STATUS_SENT",
    )
    assert steps[1] == {
        "step": "checked",
        "approved": True,
        "reason": "REASON_APPROVED",
        "attempts_left": None,
    }
    assert steps[2] == {"step": "resend_refused", "code": "FAILED_PRECONDITION", "retry_after": None}
    assert sidecar.client.email_otp.status(str(started["challenge_id"])).status.value == "approved"


def test_the_node_client_sees_a_wrong_code_as_a_verdict_and_reads_retry_after(
    node: str, sidecar: Running
) -> None:
    status, steps, err = run_example(node, sidecar, "wrong")
    assert status == 1, err
    assert steps[1] == {
        "step": "checked",
        "approved": False,
        "reason": "REASON_WRONG_CODE",
        "attempts_left": 4,
    }
    refused = steps[2]
    assert (refused["step"], refused["code"]) == ("resend_refused", "RESOURCE_EXHAUSTED")
    assert isinstance(refused["retry_after"], int) and 1 <= refused["retry_after"] <= 30


def test_the_node_ladder_gets_the_person_in_with_the_authenticator_when_the_email_fails(
    node: str, serve: Serve
) -> None:
    with socket.socket() as probe:  # a port where nothing listens: the mail server is down
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    running = serve(mailer=open_mailer(f"smtp://127.0.0.1:{dead}?security=none"))
    enrollment = running.client.totp.enroll("applicant-7", "ana@example.com")  # at signup
    proc = subprocess.run(
        [
            node,
            "ladder.mjs",
            "--target",
            running.target,
            "--subject",
            "applicant-7",
            "--email",
            "ana@example.com",
            "--stored",
            base64.b64encode(enrollment.stored).decode(),
            "--secret",
            enrollment.secret_base32,
        ],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    email, ways_in, authenticator = (json.loads(line) for line in proc.stdout.splitlines())
    assert email["delivery"] == "DELIVERY_STATUS_FAILED"
    assert ways_in["open"][0] == "WAY_IN_AUTHENTICATOR_APP"
    assert ways_in["open"][-1] == "WAY_IN_COUNTER_VOUCHER"
    assert ways_in["closed"]["WAY_IN_EMAIL_CODE"] == "CLOSED_REASON_DELIVERY_FAILED"
    assert authenticator == {"step": "authenticator", "approved": True, "reason": "REASON_APPROVED"}
    assert len(running.outbox) == 0  # nothing went through the capturing mailer either
