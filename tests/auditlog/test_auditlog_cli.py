"""``verifykit audit keygen`` and ``verifykit audit verify``: exit 0 intact, 1 tampered, naming the line."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from auditlogs import event

from verifykit.auditlog import AuditLog, AuditLogSettings, head_path, load_private_key
from verifykit.cli import main


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    private, public = tmp_path / "audit.key", tmp_path / "audit.pub"
    assert main(["audit", "keygen", "--private", str(private), "--public", str(public)]) == 0
    return private, public


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: tuple[Path, Path]) -> None:
    private, _public = keys
    assert stat.S_IMODE(private.stat().st_mode) == 0o600


def test_keygen_never_overwrites_a_key(keys: tuple[Path, Path]) -> None:
    private, public = keys
    assert main(["audit", "keygen", "--private", str(private), "--public", str(public)]) == 2


def _log(path: Path, private: Path) -> Path:
    settings = AuditLogSettings(checkpoint_records=2, checkpoint_seconds=3600)
    with AuditLog(path, load_private_key(private), settings=settings) as log:
        for n in range(4):
            log(event(n))
    return path


def test_verify_exits_0_for_an_intact_log(
    keys: tuple[Path, Path], log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    assert main(["audit", "verify", str(_log(log_path, private)), "--key", str(public)]) == 0
    assert "intact" in capsys.readouterr().out


def test_verify_exits_1_naming_the_first_bad_line(
    keys: tuple[Path, Path], log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    path = _log(log_path, private)
    path.write_bytes(path.read_bytes().replace(b'"reason":"r0"', b'"reason":"ok"'))
    assert main(["audit", "verify", str(path), "--key", str(public)]) == 1
    err = capsys.readouterr().err
    assert "TAMPERED: line 3" in err and "seq 2" in err and "line 2 was changed" in err


def test_verify_warns_of_unsealed_records_and_still_exits_0(
    keys: tuple[Path, Path], log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    settings = AuditLogSettings(checkpoint_records=100, checkpoint_seconds=3600)
    log = AuditLog(log_path, load_private_key(private), settings=settings)
    log(event(1))  # the writer is still running: never closed
    assert main(["audit", "verify", str(log_path), "--key", str(public)]) == 0
    assert "unsealed" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content",
    [b"", b"# verifykit\n\nA Python library.\n", bytes(range(256)) * 8],
    ids=["empty", "readme", "bytes"],
)
def test_verify_exits_1_for_a_file_that_holds_no_record(
    keys: tuple[Path, Path], log_path: Path, content: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    _private, public = keys
    log_path.write_bytes(content)
    assert main(["audit", "verify", str(log_path), "--key", str(public)]) == 1
    assert "intact" not in capsys.readouterr().out


def test_verify_says_plainly_when_no_anchor_was_checked(
    keys: tuple[Path, Path], log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    assert main(["audit", "verify", str(_log(log_path, private)), "--key", str(public)]) == 0
    out = capsys.readouterr().out
    assert "no anchor checked: a truncation back to an earlier checkpoint would not be detected" in out


def _anchored_log(path: Path, private: Path, anchor: str) -> Path:
    settings = AuditLogSettings(checkpoint_records=2, checkpoint_seconds=3600)
    with AuditLog(path, load_private_key(private), settings=settings, anchor=anchor) as log:
        for n in range(4):
            log(event(n))
    return path


def test_verify_with_an_anchor_names_the_checkpoint_it_checked(
    keys: tuple[Path, Path], log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    anchor = f"dir://{tmp_path / 'anchors'}"
    path = _anchored_log(log_path, private, anchor)
    assert main(["audit", "verify", str(path), "--key", str(public), "--anchor", anchor]) == 0
    out = capsys.readouterr().out
    assert "anchor checked: the newest of 4 checkpoint(s)" in out and "no anchor checked" not in out


def test_verify_exits_1_for_a_log_cut_back_with_its_head_below_its_anchor(
    keys: tuple[Path, Path], log_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    anchor = f"dir://{tmp_path / 'anchors'}"
    path = _anchored_log(log_path, private, anchor)
    lines = path.read_bytes().splitlines(keepends=True)[:4]  # up to the second checkpoint
    path.write_bytes(b"".join(lines))
    checkpoint = lines[3].decode().strip()
    head = {"writers": {json.loads(checkpoint)["writer"]: checkpoint}}
    head_path(path).write_text(json.dumps(head) + "\n")  # rebuilt from the log's own checkpoints
    assert main(["audit", "verify", str(path), "--key", str(public)]) == 0  # the head agrees...
    capsys.readouterr()
    assert (
        main(["audit", "verify", str(path), "--key", str(public), "--anchor", anchor]) == 1
    )  # ...the anchor not
    assert "truncated" in capsys.readouterr().err


def test_verify_refuses_a_syslog_anchor_saying_it_cannot_be_read_back(
    keys: tuple[Path, Path], log_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private, public = keys
    path = _log(log_path, private)
    assert (
        main(["audit", "verify", str(path), "--key", str(public), "--anchor", "syslog://127.0.0.1:514"]) == 2
    )
    assert "cannot be read back" in capsys.readouterr().err
