"""``verifykit audit keygen`` and ``verifykit audit verify``: exit 0 intact, 1 tampered, naming the line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from auditlogs import event

from verifykit.auditlog import AuditLog, AuditLogSettings, load_private_key
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
