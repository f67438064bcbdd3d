"""Reading a log back: its records as audit events, taken from the very bytes that
:func:`~verifykit.auditlog.verify_log` checked, and handed out only when the log is intact."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._audit import AuditEvent
from ._anchors import AnchorSource
from ._format import RECORD
from ._verify import VerifyReport, verify_log

__all__ = ["VerifiedLog", "read_verified"]


@dataclass(frozen=True, slots=True)
class VerifiedLog:
    """What :func:`read_verified` found. ``events`` are the log's records in file order, empty
    unless ``report.ok``; the subject of each is what the record holds (its keyed tag, as a
    sidecar writes it). ``last_at`` is the time of the log's last whole line (a record or a
    checkpoint: a closed log's last line is its closing checkpoint); ``skipped`` counts records
    whose fields are not an audit event's (a number of seconds for ``at``, text elsewhere).
    Both are 0 for a log that is not intact."""

    report: VerifyReport
    events: tuple[AuditEvent, ...]
    last_at: float
    skipped: int = 0


def _text(doc: dict[str, Any], name: str) -> str:
    value = doc.get(name)
    return value if isinstance(value, str) else ""


def _event(doc: dict[str, Any]) -> AuditEvent | None:
    at, details = doc.get("at"), doc.get("details", {})
    if isinstance(at, bool) or not isinstance(at, int | float) or not isinstance(details, dict):
        return None
    challenge = doc.get("challenge_id")
    return AuditEvent(
        action=_text(doc, "action"),
        verifier=_text(doc, "verifier"),
        subject=_text(doc, "subject_tag") or _text(doc, "subject"),
        outcome=_text(doc, "outcome"),
        reason=_text(doc, "reason"),
        challenge_id=challenge if isinstance(challenge, str) else None,
        destination=doc.get("destination") if isinstance(doc.get("destination"), str) else None,
        client=doc.get("client") if isinstance(doc.get("client"), str) else None,
        at=float(at),
        details={str(k): str(v) for k, v in details.items()},
    )


def read_verified(
    path: str | Path,
    public_key: Ed25519PublicKey,
    *,
    head: Path | None = None,
    check_head: bool = True,
    anchors: Iterable[str | AnchorSource] = (),
) -> VerifiedLog:
    """Verify the log at ``path`` as :func:`~verifykit.auditlog.verify_log` does (same
    arguments) and, in the same pass, read its records back as :class:`~verifykit.AuditEvent`\\ s.
    Nothing is handed out from a log that is not intact."""
    events: list[AuditEvent] = []
    skipped = 0
    last_at: float | None = None

    def gather(doc: dict[str, Any]) -> None:
        nonlocal skipped, last_at
        at = doc.get("at")
        if isinstance(at, int | float) and not isinstance(at, bool):
            last_at = float(at) if last_at is None else max(last_at, float(at))
        if doc.get("kind") != RECORD:
            return
        event = _event(doc)
        if event is None:
            skipped += 1
        else:
            events.append(event)

    report = verify_log(path, public_key, head=head, check_head=check_head, anchors=anchors, on_line=gather)
    if not report.ok or last_at is None:  # an intact log opens with a checkpoint, which has a time
        return VerifiedLog(report, (), 0.0)
    return VerifiedLog(report, tuple(events), last_at, skipped)
