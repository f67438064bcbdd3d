"""Interoperability with the reference argon2 tool, argon2-cffi, bcrypt and Django's PBKDF2."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys

import argon2
import bcrypt
import pytest
from password_support import GOOD, MakeVerifier

from verifykit.password import CHEAP_TESTS_ONLY, HashParameters, PasswordHasher

SALT = "NaClNaClNaCl"


def reference_argon2(password: str, *args: str) -> str:
    """Hash with the reference implementation's command-line tool (Debian package ``argon2``)."""
    tool = shutil.which("argon2")
    if tool is None:
        pytest.fail("the reference `argon2` tool is needed: apt-get install argon2 (or make services)")
    done = subprocess.run(
        [tool, SALT, *args, "-e"], input=password.encode(), capture_output=True, check=True, timeout=60
    )
    return done.stdout.decode().strip()


def reference_verify(encoded: str, password: str) -> bool:
    """Recompute with the reference tool from the parameters and salt in ``encoded``."""
    p = argon2.extract_parameters(encoded)
    kind = encoded.split("$")[1]
    salt_b64 = encoded.split("$")[4]
    salt = base64.b64decode(salt_b64 + "=" * (-len(salt_b64) % 4))
    tool = shutil.which("argon2")
    assert tool is not None
    flag = {"argon2id": "-id", "argon2i": "-i", "argon2d": "-d"}[kind]
    args = [tool.encode(), salt, flag.encode(), b"-t", b"%d" % p.time_cost, b"-k", b"%d" % p.memory_cost]
    args += [b"-p", b"%d" % p.parallelism, b"-l", b"%d" % p.hash_len, b"-e"]
    done = subprocess.run(args, input=password.encode(), capture_output=True, check=True, timeout=60)
    return done.stdout.decode().strip() == encoded


def test_a_hash_made_by_the_reference_tool_verifies(cheap: MakeVerifier) -> None:
    encoded = reference_argon2(GOOD, "-id", "-t", "2", "-k", "1024", "-p", "2")
    assert cheap().verify("u", encoded, GOOD).approved
    assert not cheap().verify("u", encoded, GOOD + "?").approved


def test_a_hash_we_make_verifies_with_the_reference_tool() -> None:
    salty = HashParameters(time_cost=2, memory_cost=1024, parallelism=2, salt_len=16)
    # The reference tool takes the salt as a command-line argument, which cannot hold a NUL byte.
    encoded = PasswordHasher(salty).hash(GOOD)
    while 0 in base64.b64decode(encoded.split("$")[4] + "=="):
        encoded = PasswordHasher(salty).hash(GOOD)
    assert reference_verify(encoded, GOOD)
    assert not reference_verify(encoded, GOOD + "?")


def test_a_hash_we_make_verifies_with_argon2_cffi_password_hasher(cheap: MakeVerifier) -> None:
    encoded = cheap(preset="owasp_minimum").hash(GOOD)
    assert argon2.PasswordHasher().verify(encoded, GOOD)
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(encoded, GOOD + "?")


def test_a_hash_made_by_argon2_cffi_password_hasher_verifies(cheap: MakeVerifier) -> None:
    encoded = argon2.PasswordHasher(time_cost=1, memory_cost=256, parallelism=1).hash(GOOD)
    assert cheap().verify("u", encoded, GOOD).approved


@pytest.mark.parametrize("flag", ["-i", "-d"])
def test_argon2i_and_argon2d_hashes_verify_and_are_replaced_by_argon2id(
    flag: str, cheap: MakeVerifier
) -> None:
    encoded = reference_argon2(GOOD, flag, "-t", "2", "-k", "256")
    verdict = cheap().verify("u", encoded, GOOD)
    assert verdict.approved
    assert verdict.stored is not None and verdict.stored.startswith("$argon2id$")
    assert not cheap().verify("u", encoded, "wrong horse").approved


def test_a_bcrypt_hash_verifies_and_is_replaced_by_argon2id(cheap: MakeVerifier) -> None:
    encoded = bcrypt.hashpw(GOOD.encode(), bcrypt.gensalt(rounds=4)).decode()
    verdict = cheap().verify("u", encoded, GOOD)
    assert verdict.approved
    assert verdict.stored is not None and verdict.stored.startswith("$argon2id$")
    assert not cheap().verify("u", encoded, "wrong horse").approved


def test_a_bcrypt_hash_of_a_password_over_72_bytes_verifies_as_bcrypt_always_did(cheap: MakeVerifier) -> None:
    long = "a fairly long passphrase that goes on and on " * 3
    encoded = bcrypt.hashpw(long.encode()[:72], bcrypt.gensalt(rounds=4)).decode()
    assert cheap().verify("u", encoded, long).approved


def django_pbkdf2(password: str, salt: str, iterations: int) -> str:
    """What Django's PBKDF2PasswordHasher.encode writes."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode('ascii').strip()}"


def test_a_django_pbkdf2_sha256_hash_verifies_and_is_replaced_by_argon2id(cheap: MakeVerifier) -> None:
    encoded = django_pbkdf2(GOOD, "seasalt2024abcdef", 1000)
    verdict = cheap().verify("u", encoded, GOOD)
    assert verdict.approved
    assert verdict.stored is not None and verdict.stored.startswith("$argon2id$")
    assert not cheap().verify("u", encoded, "wrong horse").approved


def test_the_replacement_hash_verifies_with_the_new_password_form(cheap: MakeVerifier) -> None:
    encoded = django_pbkdf2(GOOD, "pepperless", 1000)
    upgraded = cheap().verify("u", encoded, GOOD).stored
    assert upgraded is not None
    assert PasswordHasher(CHEAP_TESTS_ONLY).verify(upgraded, GOOD) == 0


def test_without_the_bcrypt_extra_a_bcrypt_hash_is_a_configuration_error_naming_it(
    monkeypatch, cheap: MakeVerifier
) -> None:
    from verifykit import ConfigurationError

    encoded = bcrypt.hashpw(GOOD.encode(), bcrypt.gensalt(rounds=4)).decode()
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    pv = cheap()
    with pytest.raises(ConfigurationError, match=r"verifykit\[bcrypt\]"):
        pv.verify("u", encoded, GOOD)
    assert pv.verify("u", None, GOOD).budget_left == pv.settings.lockout.threshold - 1
