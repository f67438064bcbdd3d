"""The audit outcome of a fallback verifier's verdict."""

from __future__ import annotations

from .._verdict import Reason, Verdict

__all__ = ["outcome"]


def outcome(verdict: Verdict) -> str:
    """``approved``; ``refused`` when nothing was compared (locked out, hard locked, rate
    limited); else ``denied``."""
    if verdict.approved:
        return "approved"
    if verdict.reason in (Reason.LOCKED_OUT, Reason.HARD_LOCKED, Reason.RATE_LIMITED):
        return "refused"
    return "denied"
