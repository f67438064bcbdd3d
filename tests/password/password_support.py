"""Shared constants for the password tests."""

from __future__ import annotations

from pathlib import Path

PASSWORD_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "passwords"
GOOD = "correct horse battery staple"
