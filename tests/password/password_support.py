"""Shared constants for the password tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from verifykit.password import PasswordVerifier

PASSWORD_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "passwords"
GOOD = "correct horse battery staple"

MakeVerifier = Callable[..., PasswordVerifier]
"""``make(**settings)``: a verifier of the flavour under test (keywords: PasswordSettings fields,
and ``keyring``, ``audit``, ``ways_in``)."""
