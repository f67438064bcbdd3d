"""Anchors: each signed checkpoint also kept in a second place, so a log cut back with its head file is found.

The attack they answer: someone who can write the log and its head file cuts the log back to an
earlier checkpoint and rebuilds the head file from the checkpoints left in it. The log and its
head then agree; only a copy kept elsewhere still holds the newer checkpoints.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from auditlogs import event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from verifykit import AuditUnavailable, ConfigurationError
from verifykit.auditlog import (
    Anchor,
    AuditLog,
    AuditLogSettings,
    anchor_from_url,
    anchor_source_from_url,
    head_path,
    verify_log,
)
from verifykit.auditlog._format import canonical

EVERY_2 = AuditLogSettings(checkpoint_records=2, checkpoint_seconds=3600, anchor_retry_seconds=0.01)


def write(
    path: Path, key: Ed25519PrivateKey, anchor: str | Anchor | None, records: int = 6, name: str = "w"
) -> None:
    """Six records, a checkpoint every two, closed: checkpoints on lines 1, 4, 7, 10 and 11."""
    with AuditLog(path, key, settings=EVERY_2, anchor=anchor, name=name) as log:
        for n in range(records):
            log(event(n))


def checkpoints(path: Path) -> list[str]:
    return [line.decode() for line in path.read_bytes().splitlines() if b'"kind":"checkpoint"' in line]


def cut_back_with_a_rebuilt_head(path: Path, keep_lines: int) -> None:
    """Cut the log back to its first ``keep_lines`` lines; rebuild the head from what is left."""
    lines = path.read_bytes().splitlines()[:keep_lines]
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    latest: dict[str, str] = {}
    for line in lines:
        doc = json.loads(line)
        if doc["kind"] == "checkpoint":
            latest[doc["writer"]] = line.decode()
    head_path(path).write_bytes(canonical({"writers": latest}) + b"\n")


@pytest.fixture
def public(signing_key: Ed25519PrivateKey) -> Ed25519PublicKey:
    return signing_key.public_key()


@pytest.fixture
def anchor_dir(tmp_path: Path) -> str:
    return f"dir://{tmp_path / 'anchors'}"


@pytest.fixture
def free_port() -> int:
    """A local port nothing listens on (it was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stream_url(redis_url: str) -> Iterator[str]:
    key = f"verifykit-test:anchors:{uuid.uuid4().hex}"
    yield f"{redis_url}?stream={key}"
    client = redis.Redis.from_url(redis_url)
    client.delete(key)
    client.close()


@pytest.fixture(params=["dir", "redis"])
def readable_anchor(request: pytest.FixtureRequest, anchor_dir: str) -> str:
    """Every kind of anchor that ``verify`` reads back: each must find the same cuts."""
    if request.param == "dir":
        return anchor_dir
    return str(request.getfixturevalue("stream_url"))


# -- the attack, and the anchor that finds it -------------------------------------------------


def test_a_log_cut_back_with_its_head_rebuilt_passes_when_no_anchor_is_checked(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, anchor_dir: str
) -> None:
    write(log_path, signing_key, anchor_dir)
    cut_back_with_a_rebuilt_head(log_path, keep_lines=7)
    report = verify_log(log_path, public)
    assert report.ok and report.anchor is None  # what the anchor is for


@pytest.mark.parametrize("keep_lines", [1, 4, 7, 10])
def test_a_log_cut_back_with_its_head_rebuilt_is_found_by_the_anchor(
    log_path: Path,
    signing_key: Ed25519PrivateKey,
    public: Ed25519PublicKey,
    readable_anchor: str,
    keep_lines: int,
) -> None:
    write(log_path, signing_key, readable_anchor)
    cut_back_with_a_rebuilt_head(log_path, keep_lines=keep_lines)
    problem = verify_log(log_path, public, anchors=[anchor_source_from_url(readable_anchor)]).problem
    assert problem is not None and "truncated" in problem.message and "anchor" in problem.message


def test_a_log_cut_back_then_written_on_is_found_diverging_from_the_anchor(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, readable_anchor: str
) -> None:
    write(log_path, signing_key, readable_anchor)
    anchored = anchor_source_from_url(readable_anchor)
    cut_back_with_a_rebuilt_head(log_path, keep_lines=4)
    write(log_path, signing_key, None, records=12, name="later")  # longer than before, but not the same
    problem = verify_log(log_path, public, anchors=[anchored]).problem
    assert problem is not None and "rewritten" in problem.message


def test_an_intact_log_passes_and_names_the_anchored_checkpoint_it_checked(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, readable_anchor: str
) -> None:
    write(log_path, signing_key, readable_anchor)
    report = verify_log(log_path, public, anchors=[anchor_source_from_url(readable_anchor)])
    assert report.ok, report.problem
    assert report.anchor is not None
    assert (report.anchor.checkpoints, report.anchor.line, report.anchor.lines_after) == (5, 11, 0)


def test_every_checkpoint_is_shipped_to_the_directory_anchor(
    log_path: Path, signing_key: Ed25519PrivateKey, anchor_dir: str
) -> None:
    write(log_path, signing_key, anchor_dir)
    (anchor_file,) = Path(anchor_dir.removeprefix("dir://")).iterdir()
    assert anchor_file.read_text().splitlines() == checkpoints(log_path)


def test_logs_sharing_an_anchor_are_each_checked_against_their_own_checkpoints(
    tmp_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, readable_anchor: str
) -> None:
    first, second = tmp_path / "monday.jsonl", tmp_path / "tuesday.jsonl"
    write(first, signing_key, readable_anchor, records=2)
    write(second, signing_key, readable_anchor, records=8)
    for path in (first, second):
        report = verify_log(path, public, anchors=[anchor_source_from_url(readable_anchor)])
        assert report.ok and report.anchor is not None and report.anchor.lines_after == 0


def test_an_anchor_holding_no_checkpoint_of_the_log_is_a_problem(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, tmp_path: Path
) -> None:
    write(log_path, signing_key, None)
    (tmp_path / "empty").mkdir()
    problem = verify_log(
        log_path, public, anchors=[anchor_source_from_url(f"dir://{tmp_path / 'empty'}")]
    ).problem
    assert problem is not None and "holds no checkpoint of this log" in problem.message


def test_an_anchored_checkpoint_not_signed_by_the_key_is_a_problem(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, anchor_dir: str
) -> None:
    write(log_path, signing_key, anchor_dir)
    (anchor_file,) = Path(anchor_dir.removeprefix("dir://")).iterdir()
    last = json.loads(anchor_file.read_text().splitlines()[-1])
    forged = canonical({**last, "file_offset": last["file_offset"] + 1}).decode()
    with anchor_file.open("a") as file:
        file.write(forged + "\n")
    problem = verify_log(log_path, public, anchors=[anchor_source_from_url(anchor_dir)]).problem
    assert problem is not None and "not one this key signed" in problem.message


# -- Redis ------------------------------------------------------------------------------------


def test_a_redis_anchor_holds_one_entry_per_checkpoint(
    log_path: Path, signing_key: Ed25519PrivateKey, redis_url: str, stream_url: str
) -> None:
    write(log_path, signing_key, stream_url)
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    entries: Any = client.xrange(stream_url.partition("stream=")[2])
    client.close()
    assert [fields["checkpoint"] for _id, fields in entries] == checkpoints(log_path)


# -- syslog -----------------------------------------------------------------------------------


@pytest.fixture
def udp_syslog() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(10.0)  # a guard against a hang, not a measurement
    yield server
    server.close()


def received(server: socket.socket, count: int) -> list[str]:
    return [server.recv(65536).decode("ascii") for _ in range(count)]


def test_checkpoints_are_sent_to_syslog_over_udp_as_anchor_entries(
    log_path: Path, signing_key: Ed25519PrivateKey, udp_syslog: socket.socket
) -> None:
    port = udp_syslog.getsockname()[1]
    write(log_path, signing_key, f"syslog://127.0.0.1:{port}?facility=local0")
    expected = checkpoints(log_path)
    messages = received(udp_syslog, len(expected))
    assert all(m.startswith("<134>verifykit-audit-anchor: {") for m in messages)  # local0.info
    assert [canonical(json.loads(m.partition(": ")[2])["checkpoint"]).decode() for m in messages] == expected


def test_syslog_lines_exported_to_a_file_find_a_log_cut_back(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, udp_syslog: socket.socket
) -> None:
    write(log_path, signing_key, f"syslog://127.0.0.1:{udp_syslog.getsockname()[1]}")
    exported = [f"Jun 10 12:00:00 host {m[m.index('>') + 1 :]}" for m in received(udp_syslog, 5)]
    assert verify_log(log_path, public, anchors=exported).ok
    cut_back_with_a_rebuilt_head(log_path, keep_lines=7)
    problem = verify_log(log_path, public, anchors=exported).problem
    assert problem is not None and "truncated" in problem.message


def test_checkpoints_are_sent_to_a_local_syslog_socket(
    tmp_path: Path, signing_key: Ed25519PrivateKey
) -> None:
    path = tmp_path / "log.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(str(path))
    server.settimeout(10.0)
    try:
        write(tmp_path / "audit.jsonl", signing_key, f"syslog://{path}", records=0)
        assert b"verifykit-audit-anchor" in server.recv(65536)
    finally:
        server.close()


def test_a_syslog_anchor_cannot_be_read_back() -> None:
    with pytest.raises(ConfigurationError, match="cannot be read back"):
        anchor_source_from_url("syslog://127.0.0.1:514")


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "dir://relative/path", "syslog://h?facility=nope", "redis://h:6379/0?maxlen=0"]
)
def test_a_bad_anchor_url_is_refused(url: str) -> None:
    with pytest.raises(ConfigurationError):
        anchor_from_url(url)


# -- the decision path never waits on, or fails with, the anchor --------------------------------


class Hanging:
    """An anchor that takes every checkpoint only once released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.shipped: list[str] = []

    def ship(self, log: str, checkpoint: str) -> None:
        self.release.wait()
        self.shipped.append(checkpoint)

    def close(self) -> None:
        pass


class Flaky:
    """An anchor that refuses its first ``failures`` checkpoints, then takes them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.shipped: list[str] = []

    def ship(self, log: str, checkpoint: str) -> None:
        if self.failures:
            self.failures -= 1
            raise AuditUnavailable("the anchor is down")
        self.shipped.append(checkpoint)

    def close(self) -> None:
        pass


def test_records_are_written_while_the_anchor_hangs(log_path: Path, signing_key: Ed25519PrivateKey) -> None:
    anchor = Hanging()
    log = AuditLog(log_path, signing_key, settings=EVERY_2, anchor=anchor)
    for n in range(20):
        log(event(n))  # returns although no checkpoint has reached the anchor
    status = log.anchor_status()
    assert status is not None and status.shipped == 0 and status.pending >= 10
    anchor.release.set()
    log.close()
    assert anchor.shipped == checkpoints(log_path)


def test_a_checkpoint_the_anchor_refused_is_shipped_again_and_the_failure_counted(
    log_path: Path, signing_key: Ed25519PrivateKey, caplog: pytest.LogCaptureFixture
) -> None:
    anchor = Flaky(failures=3)
    log = AuditLog(log_path, signing_key, settings=EVERY_2, anchor=anchor)
    for n in range(4):
        log(event(n))
    log.close()
    status = log.anchor_status()
    assert status is not None and (status.failed, status.pending, status.last_error) == (
        3,
        0,
        "the anchor is down",
    )
    assert anchor.shipped == checkpoints(log_path)
    assert "cannot anchor an audit checkpoint" in caplog.text


def test_an_unreachable_redis_anchor_never_fails_a_record(
    log_path: Path, signing_key: Ed25519PrivateKey, public: Ed25519PublicKey, free_port: int
) -> None:
    settings = AuditLogSettings(checkpoint_records=2, anchor_retry_seconds=0.01, anchor_close_seconds=0.1)
    log = AuditLog(
        log_path, signing_key, settings=settings, anchor=f"redis://127.0.0.1:{free_port}/0?stream=x"
    )
    for n in range(6):
        log(event(n))
    deadline = time.monotonic() + 30
    while log.anchor_status().failed == 0 and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    log.close()
    status = log.anchor_status()
    assert status is not None and status.failed >= 1 and status.shipped == 0 and status.pending == 5
    assert verify_log(log_path, public).ok
