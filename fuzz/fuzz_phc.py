"""Stored password hashes: argon2 PHC strings (peppered or not), bcrypt and Django PBKDF2."""

from __future__ import annotations

from verifykit import Keyring, VerifyKitError
from verifykit.password import PasswordHasher
from verifykit.password._hasher import Scheme, StoredHash, parse_hash
from verifykit.password._legacy import bcrypt_rounds, pbkdf2_iterations
from verifykit.password._profiles import CHEAP_TESTS_ONLY

from ._support import Input, typed

MAX_LEN = 4096
# Hashes this cheap are also verified, to reach the decoders behind the parser; dearer ones are
# parsed only (a stored hash may legitimately ask for seconds of work).
_CHEAP_ARGON2_KIB = 1024
_CHEAP_ARGON2_PASSES = 2
_CHEAP_BCRYPT_COST = 5
_CHEAP_PBKDF2 = 2000
_KEYRING = Keyring.generate("pepper1")
_HASHER = PasswordHasher(CHEAP_TESTS_ONLY, keyring=_KEYRING, pepper=True)


def _cheap(stored: StoredHash) -> bool:
    if stored.parameters is not None:
        p = stored.parameters
        return p.memory_cost <= _CHEAP_ARGON2_KIB and p.time_cost <= _CHEAP_ARGON2_PASSES
    if stored.scheme is Scheme.BCRYPT:
        return bcrypt_rounds(stored.encoded) <= _CHEAP_BCRYPT_COST
    return pbkdf2_iterations(stored.encoded) <= _CHEAP_PBKDF2


def _usable(stored: StoredHash) -> bool:
    try:
        _HASHER.check_usable(stored)
    except VerifyKitError:
        return False
    return True


def TestOneInput(data: bytes) -> None:
    given = Input(data)
    text = given.text(1100)
    password = given.text(200)
    stored = typed(lambda: parse_hash(text))
    if stored is None:
        return
    assert stored.memory_bytes > 0
    _ = stored.shape
    _HASHER.needs_rehash(stored)
    _HASHER.work_memory(stored)
    if _usable(stored) and _cheap(stored):
        found = typed(lambda: _HASHER.verify(stored, password))
        assert found is None or found in (0, 1)
