"""The log as written: one whole record per line, chained, sealed by signed checkpoints."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from auditlogs import WriteLog, event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit import AuditUnavailable, ConfigurationError, Keyring
from verifykit.auditlog import AuditLog, AuditLogSettings, head_path, verify_log
from verifykit.testing import FakeClock


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_a_closed_log_verifies_and_every_record_is_sealed(
    write_log: WriteLog, signing_key: Ed25519PrivateKey
) -> None:
    report = verify_log(write_log(records=7, every=3), signing_key.public_key())
    assert report.ok, report.problem
    assert report.warnings == ()
    (writer,) = report.writers
    assert writer.records == 7 and writer.unsealed == 0 and writer.closed


def test_a_chain_opens_with_a_checkpoint_and_seals_every_n_records(write_log: WriteLog) -> None:
    kinds = [doc["kind"] for doc in lines(write_log(records=6, every=3))]
    assert kinds == ["checkpoint", *["record"] * 3, "checkpoint", *["record"] * 3, "checkpoint", "checkpoint"]


def test_each_line_holds_the_hash_of_its_writers_line_before(write_log: WriteLog) -> None:
    import hashlib

    raw = write_log().read_bytes().splitlines()
    for before, line in itertools.pairwise(raw):
        assert json.loads(line)["prev"] == hashlib.sha256(before).hexdigest()


def test_a_checkpoint_is_due_after_checkpoint_seconds(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    clock = FakeClock()
    settings = AuditLogSettings(checkpoint_records=1000, checkpoint_seconds=30)
    with AuditLog(log_path, signing_key, settings=settings, clock=clock) as log:
        log(event(1))
        clock.advance(30)
        log(event(2))
        assert [doc["kind"] for doc in lines(log_path)] == ["checkpoint", "record", "record", "checkpoint"]


def test_records_left_unsealed_are_sealed_in_the_background(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    import time

    settings = AuditLogSettings(checkpoint_records=1000, checkpoint_seconds=0.05)
    with AuditLog(log_path, signing_key, settings=settings) as log:
        log(event(1))
        deadline = time.monotonic() + 10
        while lines(log_path)[-1]["kind"] != "checkpoint" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lines(log_path)[-1]["kind"] == "checkpoint"


def test_the_subject_is_written_as_its_keyed_tag_when_a_keyring_is_given(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    from verifykit._subject import subject_tag

    keyring = Keyring.generate()
    with AuditLog(log_path, signing_key, keyring=keyring) as log:
        log(event(1, subject="alice@example.com"))
    record = lines(log_path)[1]
    assert record["subject_tag"] == subject_tag(keyring, "alice@example.com")
    assert b"alice" not in log_path.read_bytes()


def test_the_head_file_keeps_each_writers_latest_checkpoint(write_log: WriteLog) -> None:
    path = write_log()
    last = path.read_bytes().splitlines()[-1].decode()
    assert list(json.loads(head_path(path).read_bytes())["writers"].values()) == [last]


def test_a_closed_log_refuses_records(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    log = AuditLog(log_path, signing_key)
    log.close()
    with pytest.raises(AuditUnavailable):
        log(event(1))


def test_a_write_that_fails_raises_audit_unavailable(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    import os

    log = AuditLog(log_path, signing_key)
    os.close(log._fd)  # the disk goes away under the writer
    log._fd = os.open(os.devnull, os.O_RDONLY)
    with pytest.raises(AuditUnavailable):
        log(event(1))


def test_a_writer_name_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        AuditLog("unused", Ed25519PrivateKey.generate(), name="no spaces please")


@pytest.mark.parametrize(
    "settings", [{"checkpoint_records": 0}, {"checkpoint_seconds": 0}, {"fsync": "never"}], ids=str
)
def test_settings_are_checked(settings: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        AuditLogSettings(**settings)  # type: ignore[arg-type]
