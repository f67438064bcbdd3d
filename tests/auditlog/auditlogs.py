"""Events and a log writer shared by the audit log tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from verifykit import AuditEvent


def event(n: int, subject: str = "alice") -> AuditEvent:
    return AuditEvent(
        action="check", verifier="otp", subject=subject, outcome="denied", reason=f"r{n}", at=float(n)
    )


WriteLog = Callable[..., Path]
