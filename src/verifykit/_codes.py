"""Codes: drawn from ``secrets``, normalized the way people type them, never stored in clear.

Shared by the verifiers that take a typed code: email one-time codes and TOTP.
"""

from __future__ import annotations

import secrets
import unicodedata

from ._errors import InvalidInput

__all__ = ["generate_code", "normalize_code"]

_SEPARATORS = {" ", "-", "\u00a0", "\u2009", "\u202f", "\u3000"}


def generate_code(digits: int) -> str:
    """A uniformly random code of ``digits`` decimal digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def normalize_code(code: object, digits: int) -> str:
    """What the person meant: NFKC (full-width and other Unicode digits become ASCII), spaces and
    dashes dropped. Anything that is still not ``digits`` ASCII digits is bad input, not a wrong
    code, so it spends no attempt."""
    if not isinstance(code, str):
        raise InvalidInput("code must be a string", field="code")
    if len(code) > 64:
        raise InvalidInput("code is too long", field="code")
    text = "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch not in _SEPARATORS)
    # NFKC maps full-width digits; other scripts' digits (e.g. Arabic-Indic) map through their value.
    out = []
    for ch in text:
        value = unicodedata.decimal(ch, None)
        if value is None:
            raise InvalidInput("code must contain digits only", field="code")
        out.append(str(value))
    if len(out) != digits:
        raise InvalidInput(f"code must be {digits} digits", field="code")
    return "".join(out)
