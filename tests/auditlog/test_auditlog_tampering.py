"""Every kind of tampering is found, and named by the line where the log stops being what was written.

The log under test (six records, a checkpoint every three, closed) reads, by line:
1 checkpoint · 2-4 records · 5 checkpoint · 6-8 records · 9 checkpoint · 10 closing checkpoint.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from auditlogs import WriteLog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifykit.auditlog import head_path, key_id, verify_log
from verifykit.auditlog._format import canonical, signed_part


def rewrite(path: Path, change: Callable[[list[bytes]], list[bytes]]) -> None:
    path.write_bytes(b"".join(line + b"\n" for line in change(path.read_bytes().splitlines())))


def edited(line: bytes, **fields: object) -> bytes:
    return canonical({**json.loads(line), **fields})


def resigned(line: bytes, key: Ed25519PrivateKey, **fields: object) -> bytes:
    doc = {**json.loads(line), **fields}
    doc["sig"] = base64.b64encode(key.sign(signed_part(doc))).decode()
    return canonical(doc)


@pytest.fixture
def log(write_log: WriteLog) -> Path:
    return write_log(records=6, every=3)


@pytest.fixture
def public(signing_key: Ed25519PrivateKey) -> Ed25519PublicKey:
    return signing_key.public_key()


def test_an_edited_field_is_found_at_the_line_that_follows_it(log: Path, public: Ed25519PublicKey) -> None:
    rewrite(log, lambda ls: [*ls[:2], edited(ls[2], outcome="approved"), *ls[3:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 4 and "line 3 was changed" in problem.message


def test_an_edited_record_just_before_a_checkpoint_is_found(log: Path, public: Ed25519PublicKey) -> None:
    rewrite(log, lambda ls: [*ls[:3], edited(ls[3], reason="approved"), *ls[4:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 5


def test_a_removed_record_is_found(log: Path, public: Ed25519PublicKey) -> None:
    rewrite(log, lambda ls: [*ls[:2], *ls[3:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 3 and "missing" in problem.message


def test_two_records_swapped_are_found(log: Path, public: Ed25519PublicKey) -> None:
    rewrite(log, lambda ls: [*ls[:2], ls[3], ls[2], *ls[4:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 3 and problem.seq == 3


def test_a_record_inserted_into_a_writers_chain_is_found(log: Path, public: Ed25519PublicKey) -> None:
    def insert(ls: list[bytes]) -> list[bytes]:
        forged = edited(ls[3], seq=4, prev=hashlib.sha256(ls[3]).hexdigest(), outcome="approved")
        return [*ls[:4], forged, *ls[4:]]

    rewrite(log, insert)
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 6 and "goes back" in problem.message


def test_a_forged_record_with_the_rest_of_the_chain_rehashed_fails_at_the_next_checkpoint(
    log: Path, public: Ed25519PublicKey
) -> None:
    def insert_and_rehash(ls: list[bytes]) -> list[bytes]:
        out = ls[:4]
        for line in [edited(ls[3], outcome="approved"), *ls[4:]]:
            out.append(edited(line, seq=len(out), prev=hashlib.sha256(out[-1]).hexdigest()))
        return out

    rewrite(log, insert_and_rehash)
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 6 and "signature" in problem.message


def test_a_record_of_a_writer_that_never_opened_is_found(log: Path, public: Ed25519PublicKey) -> None:
    forged = lambda ls: [*ls[:9], edited(ls[1], writer="ghost", seq=0, prev="0" * 64), *ls[9:]]  # noqa: E731
    rewrite(log, forged)
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 10 and problem.writer == "ghost"


def test_a_line_after_the_closing_checkpoint_is_found(log: Path, public: Ed25519PublicKey) -> None:
    def append(ls: list[bytes]) -> list[bytes]:
        return [*ls, edited(ls[1], seq=10, prev=hashlib.sha256(ls[-1]).hexdigest())]

    rewrite(log, append)
    problem = verify_log(log, public, check_head=False).problem
    assert problem is not None and problem.line == 11 and "closing" in problem.message


@pytest.mark.parametrize("cut_lines", [1, 2, 5])
def test_a_log_cut_short_at_a_line_boundary_before_its_last_checkpoint_is_found(
    log: Path, public: Ed25519PublicKey, cut_lines: int
) -> None:
    rewrite(log, lambda ls: ls[:-cut_lines])
    problem = verify_log(log, public).problem
    assert problem is not None and "truncated" in problem.message


def test_a_log_cut_mid_line_before_its_last_checkpoint_is_found(log: Path, public: Ed25519PublicKey) -> None:
    data = log.read_bytes()
    log.write_bytes(data[: len(data) - len(data.splitlines()[-1]) // 2 - 1])
    problem = verify_log(log, public).problem
    assert problem is not None and "truncated" in problem.message


def test_a_missing_head_file_is_found(log: Path, public: Ed25519PublicKey) -> None:
    head_path(log).unlink()
    problem = verify_log(log, public).problem
    assert problem is not None and "head file" in problem.message


def test_a_checkpoint_signed_with_another_key_is_found(log: Path, public: Ed25519PublicKey) -> None:
    other = Ed25519PrivateKey.generate()
    rewrite(log, lambda ls: [*ls[:4], resigned(ls[4], other, key_id=key_id(other.public_key())), *ls[5:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 5 and "another key" in problem.message


def test_a_checkpoint_claiming_the_right_key_but_signed_by_another_is_found(
    log: Path, public: Ed25519PublicKey
) -> None:
    rewrite(log, lambda ls: [*ls[:4], resigned(ls[4], Ed25519PrivateKey.generate()), *ls[5:]])
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 5 and "signature" in problem.message


def test_a_line_in_another_layout_is_found(log: Path, public: Ed25519PublicKey) -> None:
    rewrite(
        log, lambda ls: [*ls[:2], json.dumps(json.loads(ls[2]), indent=1).replace("\n", "").encode(), *ls[3:]]
    )
    problem = verify_log(log, public).problem
    assert problem is not None and problem.line == 3


def test_a_log_checked_against_another_public_key_fails(log: Path) -> None:
    problem = verify_log(log, Ed25519PrivateKey.generate().public_key()).problem
    assert problem is not None and problem.line == 1


def test_an_anchor_kept_elsewhere_finds_a_log_rolled_back_with_its_head_file(
    write_log: WriteLog, log_path: Path, public: Ed25519PublicKey
) -> None:
    write_log(records=2, every=1, close=False)
    old_log, old_head = log_path.read_bytes(), head_path(log_path).read_bytes()
    write_log(records=2, every=1)  # a second writer appends and closes
    anchor = log_path.read_bytes().splitlines()[-1].decode()
    log_path.write_bytes(old_log)
    head_path(log_path).write_bytes(old_head)
    assert verify_log(log_path, public).ok  # the file and its head agree again...
    problem = verify_log(log_path, public, anchors=[anchor]).problem
    assert problem is not None and "anchor" in problem.message  # ...but not with the copy kept elsewhere
