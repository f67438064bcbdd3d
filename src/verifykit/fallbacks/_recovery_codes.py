"""Recovery codes: drawn from ``secrets`` in an alphabet people cannot misread, and read back
the way people type them."""

from __future__ import annotations

import secrets
import unicodedata

from .._errors import InvalidInput

__all__ = ["ALPHABET", "GROUPS", "generate", "normalize"]

# Crockford's base32: no i, l, o or u, so 32 symbols and 5 bits each; 12 symbols are 60 bits.
ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
GROUPS = 3
GROUP_LENGTH = 4
_LENGTH = GROUPS * GROUP_LENGTH
_CONFUSABLE = str.maketrans({"o": "0", "i": "1", "l": "1"})
_SEPARATORS = {" ", "-", "_", ".", "\u00a0", "\u2009", "\u202f", "\u3000", "\u2010", "\u2011", "\u2013"}


def generate() -> str:
    """A new code such as ``7k2m-x9qd-c4hr``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + GROUP_LENGTH] for i in range(0, _LENGTH, GROUP_LENGTH))


def normalize(code: object) -> str:
    """What the person meant: any case, with or without dashes or spaces, ``o`` for ``0`` and
    ``i``/``l`` for ``1``. Anything else is bad input, not a wrong code, so it costs no attempt."""
    if not isinstance(code, str):
        raise InvalidInput("a recovery code must be a string", field="code")
    if len(code) > 64:
        raise InvalidInput("a recovery code is too long", field="code")
    text = "".join(ch for ch in unicodedata.normalize("NFKC", code) if ch not in _SEPARATORS)
    text = text.lower().translate(_CONFUSABLE)
    if len(text) != _LENGTH or any(ch not in ALPHABET for ch in text):
        raise InvalidInput(
            f"a recovery code is {_LENGTH} letters and digits, like xxxx-xxxx-xxxx", field="code"
        )
    return "-".join(text[i : i + GROUP_LENGTH] for i in range(0, _LENGTH, GROUP_LENGTH))
