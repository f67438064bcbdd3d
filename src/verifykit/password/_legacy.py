"""Verifying hashes made by other systems, so their users can move to argon2id on next login.

bcrypt (``$2a$``/``$2b$``/``$2y$``, needs the ``bcrypt`` extra) and Django's PBKDF2-SHA256
(``pbkdf2_sha256$iterations$salt$hash``). argon2i and argon2d are handled with argon2id in
:mod:`verifykit.password._hasher`. Each of these only ever *verifies*: new hashes are argon2id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from typing import Any

from .._errors import ConfigurationError, InvalidInput

__all__ = [
    "BCRYPT",
    "MAX_PBKDF2_ITERATIONS",
    "PBKDF2",
    "bcrypt_rounds",
    "pbkdf2_iterations",
    "require_bcrypt",
    "verify_bcrypt",
    "verify_pbkdf2_sha256",
]

BCRYPT = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
PBKDF2 = re.compile(r"^pbkdf2_sha256\$([1-9][0-9]{0,8})\$([^$]{1,256})\$([A-Za-z0-9+/]{22,}={0,2})$")
#: A stored PBKDF2 hash asking for more rounds than this is refused rather than run (Django 5.1
#: uses 870,000; ten million is already several seconds of CPU).
MAX_PBKDF2_ITERATIONS = 10_000_000
# bcrypt only ever looked at the first 72 bytes; bcrypt >= 5 refuses longer input instead.
_BCRYPT_MAX_BYTES = 72


def require_bcrypt() -> Any:
    """The bcrypt module, or a ConfigurationError naming the extra that provides it."""
    try:
        import bcrypt
    except ImportError:
        raise ConfigurationError(
            "verifying bcrypt hashes needs the bcrypt extra: pip install 'verifykit[bcrypt]'"
        ) from None
    return bcrypt


def bcrypt_rounds(encoded: str) -> int:
    """The cost of a bcrypt hash: it runs ``2 ** cost`` rounds of its key schedule."""
    m = BCRYPT.match(encoded)
    if m is None:
        raise InvalidInput("stored bcrypt hash is malformed", field="stored_hash")
    return int(m.group(1))


def verify_bcrypt(encoded: str, password: str) -> bool:
    bcrypt = require_bcrypt()
    secret = password.encode("utf-8")[:_BCRYPT_MAX_BYTES]
    try:
        return bool(bcrypt.checkpw(secret, encoded.encode("ascii")))
    except ValueError:
        raise InvalidInput("stored bcrypt hash is malformed", field="stored_hash") from None


def pbkdf2_iterations(encoded: str) -> int:
    m = PBKDF2.match(encoded)
    if m is None:
        raise InvalidInput("stored PBKDF2 hash is malformed", field="stored_hash")
    iterations = int(m.group(1))
    if iterations > MAX_PBKDF2_ITERATIONS:
        raise InvalidInput(
            f"stored PBKDF2 hash asks for more than {MAX_PBKDF2_ITERATIONS} iterations", field="stored_hash"
        )
    return iterations


def verify_pbkdf2_sha256(encoded: str, password: str) -> bool:
    """Django's ``PBKDF2PasswordHasher``: base64 of PBKDF2-HMAC-SHA256 with the salt as text."""
    iterations = pbkdf2_iterations(encoded)
    _algorithm, _iterations, salt, b64 = encoded.split("$")
    try:
        expected = base64.b64decode(b64, validate=True)
    except binascii.Error:
        raise InvalidInput("stored PBKDF2 hash is malformed", field="stored_hash") from None
    actual = hashlib.pbkdf2_hmac(
        "sha256", password.encode("utf-8"), salt.encode("utf-8"), iterations, dklen=len(expected)
    )
    return hmac.compare_digest(actual, expected)
