"""Several writing processes, and writers that die mid-write."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from auditlogs import event
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit.auditlog import AuditLog, AuditLogSettings, verify_log

DEADLINE = 60.0

WRITER = """
import sys
from pathlib import Path
from verifykit import AuditEvent
from verifykit.auditlog import AuditLog, AuditLogSettings, load_private_key

path, key, name, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
log = AuditLog(path, load_private_key(key), name=name,
               settings=AuditLogSettings(checkpoint_records=7, checkpoint_seconds=3600, fsync="checkpoint"))
print("open", flush=True)
n = 0
while count < 0 or n < count:
    log(AuditEvent(action="check", verifier="otp", subject="s", outcome="denied", reason=f"{name}{n}"))
    n += 1
log.close()
"""


@pytest.fixture
def key_file(tmp_path: Path, signing_key: Ed25519PrivateKey) -> Path:
    path = tmp_path / "audit.key"
    path.write_bytes(
        signing_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def writer(log_path: Path, key_file: Path, name: str, count: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log_path), str(key_file), name, str(count)],
        stdout=subprocess.PIPE,
        text=True,
    )


def test_two_processes_writing_at_once_leave_two_chains_that_verify(
    log_path: Path, key_file: Path, signing_key: Ed25519PrivateKey
) -> None:
    count = 300
    procs = [writer(log_path, key_file, name, count) for name in ("a", "b")]
    for proc in procs:
        assert proc.wait(DEADLINE) == 0
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert sorted(w.records for w in report.writers) == [count, count]
    assert all(w.closed and not w.unsealed for w in report.writers)
    for line in log_path.read_bytes().splitlines():
        json.loads(line)  # every line whole: none interleaved


def _records(log_path: Path) -> int:
    return log_path.read_bytes().count(b'"kind":"record"') if log_path.exists() else 0


def test_a_writer_killed_mid_loop_leaves_a_log_that_verifies_up_to_its_last_whole_record(
    log_path: Path, key_file: Path, signing_key: Ed25519PrivateKey
) -> None:
    proc = writer(log_path, key_file, "doomed", -1)
    deadline = time.monotonic() + DEADLINE
    while _records(log_path) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(DEADLINE)
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert report.writers[0].records >= 50 and not report.writers[0].closed


def test_a_torn_last_line_is_a_warning_and_the_records_before_it_verify(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    settings = AuditLogSettings(checkpoint_records=3, checkpoint_seconds=3600)
    log = AuditLog(log_path, signing_key, settings=settings)
    for n in range(4):
        log(event(n))
    with log_path.open("ab") as file:
        file.write(b'{"action":"check","at":4.0,"chal')  # the process died inside write()
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert report.writers[0].records == 4 and report.writers[0].unsealed == 1
    assert any("torn" in w for w in report.warnings) and any("unsealed" in w for w in report.warnings)


def test_a_writer_opening_after_a_crash_ends_the_torn_line_and_the_log_verifies(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    crashed = AuditLog(log_path, signing_key)
    crashed(event(1))
    with log_path.open("ab") as file:
        file.write(b'{"action":"che')
    with AuditLog(log_path, signing_key) as restarted:
        restarted(event(2))
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert [w.closed for w in report.writers] == [False, True]
    assert any("torn" in w for w in report.warnings)


def test_a_checkpoint_of_one_writer_seals_the_lines_of_the_others(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    settings = AuditLogSettings(checkpoint_records=1000, checkpoint_seconds=3600)
    first = AuditLog(log_path, signing_key, settings=settings, name="first")
    first(event(1))  # unsealed by its own writer...
    with AuditLog(log_path, signing_key, settings=settings, name="second"):
        pass  # ...but sealed by the second writer's checkpoints
    data = log_path.read_bytes().replace(b'"reason":"r1"', b'"reason":"r9"')
    log_path.write_bytes(data)
    problem = verify_log(log_path, signing_key.public_key()).problem
    assert problem is not None and problem.line == 3 and "changed after it sealed them" in problem.message
