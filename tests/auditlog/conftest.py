"""Keys and small logs for the audit log tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from auditlogs import WriteLog, event
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from verifykit.auditlog import AuditLog, AuditLogSettings


@pytest.fixture
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.jsonl"


@pytest.fixture
def write_log(log_path: Path, signing_key: Ed25519PrivateKey) -> WriteLog:
    """Write ``records`` events, a checkpoint every ``every`` records, then close (or not)."""

    def write(records: int = 6, every: int = 3, close: bool = True) -> Path:
        settings = AuditLogSettings(checkpoint_records=every, checkpoint_seconds=3600)
        log = AuditLog(log_path, signing_key, settings=settings, name="w")
        for n in range(records):
            log(event(n))
        if close:
            log.close()
        return log_path

    return write
