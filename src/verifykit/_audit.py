"""Audit events: every decision leaves a record of who, what, when, outcome and why.

Events never carry secrets: no codes, passwords, images, templates or full addresses.
A sink is any callable taking an :class:`AuditEvent`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields

__all__ = ["DEFAULT_AUDIT_SINK", "AuditEvent", "AuditSink", "LoggingAuditSink", "emit", "tee"]

_log = logging.getLogger("verifykit.audit")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One decision. ``destination`` is always masked; ``details`` hold no secrets."""

    action: str
    verifier: str
    subject: str
    outcome: str
    reason: str = ""
    challenge_id: str | None = None
    destination: str | None = None
    client: str | None = None
    at: float = field(default_factory=time.time)
    details: Mapping[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        doc = {name: getattr(self, name) for name in _FIELDS}
        doc["details"] = dict(self.details)
        return json.dumps(doc, sort_keys=True, default=str)


_FIELDS = tuple(f.name for f in fields(AuditEvent))

AuditSink = Callable[[AuditEvent], None]


class LoggingAuditSink:
    """The default sink: one JSON line per event on the ``verifykit.audit`` logger."""

    def __init__(self, logger: logging.Logger | None = None, level: int = logging.INFO) -> None:
        self._logger = logger or _log
        self._level = level

    def __call__(self, event: AuditEvent) -> None:
        if self._logger.isEnabledFor(self._level):
            self._logger.log(self._level, "%s", event.to_json())


DEFAULT_AUDIT_SINK: AuditSink = LoggingAuditSink()


def tee(*sinks: AuditSink | None) -> AuditSink | None:
    """One sink that hands each event to ``sinks`` in order, leaving out the ``None`` ones (``None``
    when none is left). The first sink to raise stops the rest, and its error is the caller's: a
    sink after the audit log (metrics) never counts an event the log did not take."""
    given = tuple(sink for sink in sinks if sink is not None)
    if len(given) <= 1:
        return given[0] if given else None
    return _Tee(given)


class _Tee:
    def __init__(self, sinks: tuple[AuditSink, ...]) -> None:
        self._sinks = sinks

    def __call__(self, event: AuditEvent) -> None:
        for sink in self._sinks:
            sink(event)


def emit(sink: AuditSink | None, event: AuditEvent) -> None:
    """Send an event; a broken sink is logged, never allowed to change a verdict."""
    if sink is None:
        return
    try:
        sink(event)
    except Exception:
        _log.exception("audit sink failed for %s/%s", event.verifier, event.action)
