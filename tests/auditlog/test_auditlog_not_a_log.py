"""A file is intact only when writers wrote it: no record, or a torn line a writer cannot have left, is not.

A torn line (the start of a line, ended by the next writer's newline) is accepted only where it
can be its writer's last line: a writer that dies mid-write never writes again, and one whose own
write failed part-way goes on only as a new writer.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from auditlogs import event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit import AuditUnavailable
from verifykit.auditlog import AuditLog, AuditLogSettings, verify_log
from verifykit.auditlog import _writer as writer_module

UNSEALED = AuditLogSettings(checkpoint_records=1000, checkpoint_seconds=3600)


def open_log(path: Path, key: Ed25519PrivateKey, records: int, name: str = "w") -> AuditLog:
    """A running writer: its opening checkpoint, then ``records`` unsealed records."""
    log = AuditLog(path, key, settings=UNSEALED, name=name)
    for n in range(records):
        log(event(n))
    return log


def insert_line(path: Path, at: int, line: bytes) -> None:
    lines = path.read_bytes().splitlines()
    path.write_bytes(b"".join(x + b"\n" for x in [*lines[:at], line, *lines[at:]]))


@pytest.mark.parametrize(
    "content",
    [b"", b"# verifykit\n\nA Python library.\n", os.urandom(4096), b'{"action":"check","at":1\n'],
    ids=["empty", "readme", "random-bytes", "only-a-torn-line"],
)
def test_a_file_with_no_line_a_writer_wrote_is_not_intact(
    log_path: Path, signing_key: Ed25519PrivateKey, content: bytes
) -> None:
    log_path.write_bytes(content)
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None


def test_an_empty_file_is_reported_as_holding_no_record(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    log_path.write_bytes(b"")
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and "empty" in problem.message


def test_a_file_that_is_not_an_audit_log_is_named_so(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    log_path.write_bytes(b"# verifykit\n\nA Python library.\n")
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 1 and "not an audit log" in problem.message


def test_a_line_that_is_not_the_start_of_a_writers_line_is_found(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=2)
    insert_line(log_path, 2, b"hello")
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 3


def test_a_torn_line_between_two_records_of_the_only_writer_is_found(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=3)
    insert_line(log_path, 2, b'{"action":"check","at":1.0,"chal')
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 3 and "no writer can have stopped there" in problem.message


def test_a_torn_line_whose_own_writer_wrote_on_after_it_is_found(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=3)
    lines = log_path.read_bytes().splitlines()
    whole = json.loads(lines[2])  # the writer's record after line 2, torn just after its prev
    fragment = json.dumps(whole, sort_keys=True, separators=(",", ":")).encode()
    fragment = fragment[: fragment.index(b'"prev":') + 7 + 66]
    insert_line(log_path, 2, fragment)
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 3 and "wrote on after it" in problem.message


def test_a_torn_line_left_by_a_writer_that_then_stopped_is_a_warning(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=2, name="crashed")
    with log_path.open("ab") as file:
        file.write(b'{"action":"check","at":9.0,"cha')  # it died inside write()
    with AuditLog(log_path, signing_key, settings=UNSEALED, name="next") as restarted:
        restarted(event(3))
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert any("line 4 is torn" in w for w in report.warnings)


def test_two_torn_records_need_two_writers_that_stopped(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=1, name="only")
    for _ in range(2):
        with log_path.open("ab") as file:
            file.write(b'{"action":"check","at":9.0,"cha\n')
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 4


def test_a_torn_checkpoint_that_does_not_start_where_it_says_is_found(
    log_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    open_log(log_path, signing_key, records=1)
    with log_path.open("ab") as file:
        file.write(b'{"at":1.0,"closing":false,"file_offset":7,"file_sha256":"ab\n')
    problem = verify_log(log_path, signing_key.public_key(), check_head=False).problem
    assert problem is not None and problem.line == 3 and "does not start where it says" in problem.message


def test_a_writer_whose_write_failed_part_way_goes_on_as_a_new_writer(
    log_path: Path, signing_key: Ed25519PrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = open_log(log_path, signing_key, records=1, name="disk")
    first = log.writer

    def half_then_full(fd: int, data: bytes) -> None:
        os.write(fd, data[: len(data) // 2])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer_module, "_write_all", half_then_full)
    with pytest.raises(AuditUnavailable):
        log(event(2))
    monkeypatch.undo()
    log(event(3))
    log.close()
    assert log.writer != first
    report = verify_log(log_path, signing_key.public_key())
    assert report.ok, report.problem
    assert [(w.records, w.closed) for w in report.writers] == [(1, False), (1, True)]
    assert any("torn" in w for w in report.warnings)
