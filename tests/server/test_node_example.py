"""The Node.js examples (@grpc/grpc-js) run the email OTP flow, the whole ladder, a counter
voucher and passkeys against a real sidecar."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sidecars import REPO, Running, Serve

from verifykit import Reason
from verifykit.auditlog import write_key_pair
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
    assert email["ways_in"] == ["WAY_EMAIL_CODE", "WAY_AUTHENTICATOR_APP", "WAY_COUNTER_VOUCHER"]
    assert ways_in["open"][0] == "WAY_AUTHENTICATOR_APP"
    assert ways_in["open"][-1] == "WAY_COUNTER_VOUCHER"
    assert ways_in["closed"]["WAY_EMAIL_CODE"] == "REASON_DELIVERY_FAILED"
    assert authenticator == {"step": "authenticator", "approved": True, "reason": "REASON_APPROVED"}
    assert len(running.outbox) == 0  # nothing went through the capturing mailer either


def verifykit_cli(*argv: str) -> str:
    """``verifykit ARGV`` as the counter system runs it (no sidecar settings in its environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
    done = subprocess.run(
        [sys.executable, "-m", "verifykit", *argv], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_node_client_redeems_a_counter_voucher_after_a_hard_lock_and_gets_in(
    node: str, serve: Serve, tmp_path: Path
) -> None:
    verifykit_cli("officer", "keygen", "--out", str(tmp_path / "officer"))
    registry = tmp_path / "officers.json"
    registry_id = verifykit_cli("officer", "init", "--registry", str(registry)).removeprefix("registry id ")
    proof = tmp_path / "officer.proof"
    proof.write_text(verifykit_cli("officer", "prove", "--key", str(tmp_path / "officer.key"),
                                   "--registry-id", registry_id))  # fmt: skip
    verifykit_cli("officer", "add", "--registry", str(registry), "--proof", str(proof),
                  "--public-key", str(tmp_path / "officer.pub"), "--name", "Officer Ana")  # fmt: skip
    write_key_pair(tmp_path / "audit.key", tmp_path / "audit.pub")
    running = serve(officers_file=registry, audit_file=tmp_path / "audit.log",
                    audit_key_file=tmp_path / "audit.key", lockout_hard_cap=2)  # fmt: skip
    enrollment = running.client.totp.enroll("applicant-7", "ana@example.com")  # at signup
    for guess in ("000000", "999999"):  # someone else guesses; the hard cap is 2
        assert not running.client.totp.verify("applicant-7", enrollment.stored, guess).approved
    key = str(tmp_path / "officer.key")
    voucher = verifykit_cli("voucher", "sign", "--key", key, "--subject", "applicant-7",
                            "--reason", "locked_out", "--unlock", "authenticator_app")  # fmt: skip
    proc = subprocess.run(
        [node, "voucher.mjs", "--target", running.target, "--subject", "applicant-7",
         "--stored", base64.b64encode(enrollment.stored).decode(), "--secret", enrollment.secret_base32],
        cwd=EXAMPLE, capture_output=True, text=True, timeout=120,
        env={**os.environ, "VERIFYKIT_VOUCHER": voucher},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    locked, ways_in, redeemed, ways_in_after, authenticator = map(json.loads, proc.stdout.splitlines())
    assert locked == {"step": "locked", "approved": False, "reason": "REASON_HARD_LOCKED", "budget_left": 0}
    assert ways_in["open"] == ["WAY_COUNTER_VOUCHER"] and ways_in["budget_hard_locked"]
    assert ways_in["closed"]["WAY_AUTHENTICATOR_APP"] == "REASON_HARD_LOCKED"
    officer = verifykit_cli("officer", "list", "--registry", str(registry), "--json")
    assert redeemed == {
        "step": "voucher",
        "approved": True,
        "reason": "REASON_APPROVED",
        "unlocked": ["WAY_AUTHENTICATOR_APP"],
        "officers": [json.loads(officer)[0]["key_id"]],
    }
    assert ways_in_after["open"][0] == "WAY_AUTHENTICATOR_APP" and not ways_in_after["budget_hard_locked"]
    assert authenticator == {"step": "authenticator", "approved": True, "reason": "REASON_APPROVED",
                             "budget_left": None}  # fmt: skip
    replayed = running.client.vouchers.redeem("applicant-7", voucher)  # spent by the Node client
    assert (replayed.approved, replayed.verdict().reason) == (False, Reason.REPLAYED)


def run_passkey_example(node: str, running: Running, *extra: str) -> subprocess.CompletedProcess[str]:
    """``passkey.mjs``: Node registers a passkey as the authenticator, signs in, replays the sign-in."""
    return subprocess.run(
        [node, "passkey.mjs", "--target", running.target, "--subject", "applicant-7", *extra],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_node_authenticator_registers_a_passkey_signs_in_and_sees_its_replay_refused(
    node: str, serve: Serve
) -> None:
    running = serve(passkey_rp_id="example.com", passkey_origins="https://example.com")
    proc = run_passkey_example(node, running)
    assert proc.returncode == 0, proc.stderr
    registered, signed_in, described, replayed = map(json.loads, proc.stdout.splitlines())
    credential_id = registered["credential_id"]
    assert isinstance(credential_id, str) and credential_id
    assert registered == {
        "step": "registered",
        "approved": True,
        "reason": "REASON_APPROVED",
        "credential_id": credential_id,
        "attestation_format": "none",
        "assurance_level": 2,
    }
    assert signed_in == {
        "step": "signed_in",
        "approved": True,
        "reason": "REASON_APPROVED",
        "credential_id": credential_id,
        "stored_updated": True,
    }
    assert described == {"step": "described", "sign_count": 2, "assurance_level": 2}
    assert replayed == {"step": "replayed", "approved": False, "reason": "REASON_REPLAYED"}


def test_the_node_authenticator_on_another_origin_is_refused_with_its_reason(node: str, serve: Serve) -> None:
    running = serve(passkey_rp_id="example.com", passkey_origins="https://example.com")
    proc = run_passkey_example(node, running, "--origin", "https://evil.example")
    assert proc.returncode == 1, proc.stderr
    (registered,) = map(json.loads, proc.stdout.splitlines())
    assert (registered["step"], registered["approved"], registered["reason"]) == (
        "registered",
        False,
        "REASON_WRONG_ORIGIN",
    )
