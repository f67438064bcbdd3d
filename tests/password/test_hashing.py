"""Hashing and verifying: standard PHC strings, NFKC, transparent upgrade, pepper and rotation."""

from __future__ import annotations

import re
import unicodedata

import argon2
import pytest
from password_support import GOOD, MakeVerifier

from verifykit import InvalidInput, Keyring, KeyringError, Reason
from verifykit.password import (
    CHEAP_TESTS_ONLY,
    HashParameters,
    PasswordHasher,
    PolicyViolation,
    Scheme,
    parse_hash,
)

PHC = re.compile(r"^\$argon2id\$v=19\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")


def test_a_hash_is_a_standard_argon2id_phc_string_with_the_preset_parameters(cheap: MakeVerifier) -> None:
    stored = cheap().hash(GOOD)
    assert PHC.match(stored)
    params = argon2.extract_parameters(stored)
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 64, 1)
    assert params.salt_len == CHEAP_TESTS_ONLY.salt_len and params.hash_len == CHEAP_TESTS_ONLY.hash_len


def test_the_same_password_hashes_differently_each_time(cheap: MakeVerifier) -> None:
    pv = cheap()
    assert pv.hash(GOOD) != pv.hash(GOOD)


def test_the_right_password_is_approved_without_an_upgrade(cheap: MakeVerifier) -> None:
    pv = cheap()
    verdict = pv.verify("user-1", pv.hash(GOOD), GOOD)
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert verdict.stored is None
    assert verdict.budget_left is None  # the failure count was reset: nothing to count down
    assert verdict.attempts_left is None  # and a password has no challenge with attempts


def test_a_wrong_password_is_a_verdict_not_an_exception(cheap: MakeVerifier) -> None:
    pv = cheap()
    verdict = pv.verify("user-1", pv.hash(GOOD), GOOD + "!")
    assert not verdict.approved and verdict.reason is Reason.WRONG_PASSWORD


def test_the_password_is_nfkc_normalized_the_same_way_on_set_and_verify(cheap: MakeVerifier) -> None:
    pv = cheap()
    typed_on_a_mac = unicodedata.normalize("NFD", "crème brûlée au café")
    typed_elsewhere = unicodedata.normalize("NFC", "crème brûlée au café")
    assert pv.verify("u", pv.hash(typed_on_a_mac), typed_elsewhere).approved
    fullwidth = "ｐａｓｓｐｈｒａｓｅ ｗｉｔｈ ｗｉｄｅ ｌｅｔｔｅｒｓ"  # noqa: RUF001 - NFKC folds these to ASCII
    assert pv.verify("u", pv.hash(fullwidth), "passphrase with wide letters").approved


def test_a_hash_with_weaker_parameters_is_upgraded_on_a_successful_verify(cheap: MakeVerifier) -> None:
    old = cheap().hash(GOOD)
    stronger = HashParameters(time_cost=2, memory_cost=256, parallelism=1)
    verdict = cheap(preset=stronger).verify("u", old, GOOD)
    assert verdict.approved
    assert verdict.stored is not None
    new = argon2.extract_parameters(verdict.stored)
    assert (new.time_cost, new.memory_cost) == (2, 256)
    assert cheap(preset=stronger).verify("u", verdict.stored, GOOD).stored is None


def test_a_failed_verify_never_carries_an_upgrade(cheap: MakeVerifier) -> None:
    old = cheap().hash(GOOD)
    stronger = HashParameters(time_cost=2, memory_cost=256, parallelism=1)
    assert cheap(preset=stronger).verify("u", old, "not it at all").stored is None


def test_a_hash_stronger_than_the_preset_is_kept(cheap: MakeVerifier) -> None:
    strong = cheap(preset=HashParameters(2, 256, 1)).hash(GOOD)
    assert cheap().verify("u", strong, GOOD).stored is None


def test_an_argon2id_hash_of_version_16_is_upgraded(cheap: MakeVerifier) -> None:
    old = argon2.low_level.hash_secret(
        GOOD.encode(), b"saltsaltsalt", time_cost=1, memory_cost=64, parallelism=1, hash_len=16,
        type=argon2.Type.ID, version=0x10,
    ).decode()  # fmt: skip
    assert old.startswith("$argon2id$v=16$")
    verdict = cheap().verify("u", old, GOOD)
    assert verdict.approved and verdict.stored is not None
    assert verdict.stored.startswith("$argon2id$v=19$")


def test_a_hash_made_from_the_unnormalized_password_verifies_and_is_rehashed_normalized(
    cheap: MakeVerifier,
) -> None:
    typed = unicodedata.normalize("NFD", "crème brûlée au café")
    legacy = argon2.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1).hash(typed)
    verdict = cheap().verify("u", legacy, typed)
    assert verdict.approved and verdict.stored is not None
    assert PasswordHasher(CHEAP_TESTS_ONLY).verify(verdict.stored, "crème brûlée au café") == 0


def test_a_peppered_hash_records_its_key_id_and_needs_the_key(cheap: MakeVerifier) -> None:
    keyring = Keyring.generate("pep1")
    pv = cheap(keyring=keyring, pepper=True)
    stored = pv.hash(GOOD)
    assert stored.startswith("$vkpepper$k=pep1$argon2id$v=19$")
    assert parse_hash(stored).pepper_kid == "pep1"
    assert pv.verify("u", stored, GOOD).approved
    # The argon2 part alone is useless without the key: the HMAC went in, not the password.
    inner = stored.removeprefix("$vkpepper$k=pep1")
    with pytest.raises(argon2.exceptions.VerifyMismatchError):
        argon2.PasswordHasher().verify(inner, GOOD)


def test_rotating_the_pepper_key_keeps_old_hashes_verifying_and_upgrades_them(cheap: MakeVerifier) -> None:
    old_entry = Keyring.new_keyring_string("old")
    stored = cheap(keyring=Keyring.from_string(old_entry), pepper=True).hash(GOOD)
    # The old key stays in the keyring; a new one is appended and becomes current.
    rotated = Keyring.from_string(",".join([old_entry, Keyring.new_key_string("new")]))
    verdict = cheap(keyring=rotated, pepper=True).verify("u", stored, GOOD)
    assert verdict.approved
    assert verdict.stored is not None and verdict.stored.startswith("$vkpepper$k=new$")


def test_turning_the_pepper_on_upgrades_unpeppered_hashes(cheap: MakeVerifier) -> None:
    keyring = Keyring.generate()
    plain = cheap(keyring=keyring).hash(GOOD)
    verdict = cheap(keyring=keyring, pepper=True).verify("u", plain, GOOD)
    assert verdict.approved and verdict.stored is not None
    assert verdict.stored.startswith("$vkpepper$k=")


def test_a_hash_peppered_with_a_key_that_is_gone_is_a_keyring_error(cheap: MakeVerifier) -> None:
    stored = cheap(keyring=Keyring.generate("gone"), pepper=True).hash(GOOD)
    with pytest.raises(KeyringError):
        cheap(keyring=Keyring.generate("other")).verify("u", stored, GOOD)


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "plaintext",
        "$argon2id$v=19$m=64,t=1,p=1$short",
        "$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$vkpepper$k=$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "pbkdf2_sha256$99999999$salt$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA==",
        "x" * 2000,
    ],
)
def test_a_stored_hash_that_is_not_a_usable_hash_is_invalid_input(bad: str, cheap: MakeVerifier) -> None:
    with pytest.raises(InvalidInput) as err:
        cheap().verify("u", bad, GOOD)
    assert err.value.field == "stored_hash"
    if len(bad) > 8:
        assert bad not in err.value.message


def test_schemes_are_recognised(cheap: MakeVerifier) -> None:
    assert parse_hash(cheap().hash(GOOD)).scheme is Scheme.ARGON2ID
    assert parse_hash("$2b$04$" + "a" * 53).scheme is Scheme.BCRYPT
    assert parse_hash("pbkdf2_sha256$1000$salt$" + "A" * 43 + "=").scheme is Scheme.PBKDF2_SHA256


def test_hashing_refuses_a_password_the_policy_refuses_and_hashes_nothing(cheap: MakeVerifier) -> None:
    pv = cheap()
    with pytest.raises(PolicyViolation):
        pv.hash("password")
    assert pv.budget.peak == 0


def test_verifying_an_absurdly_long_password_is_refused_before_any_work(cheap: MakeVerifier) -> None:
    pv = cheap()
    stored = pv.hash(GOOD)
    with pytest.raises(InvalidInput):
        pv.verify("u", stored, "x" * 5000)
    assert pv.budget.peak == CHEAP_TESTS_ONLY.memory_bytes


@pytest.mark.parametrize("subject", ["", "x" * 300, "bad\nsubject", None])
def test_a_malformed_subject_is_invalid_input(subject: object, cheap: MakeVerifier) -> None:
    with pytest.raises(InvalidInput):
        cheap().verify(subject, None, GOOD)  # type: ignore[arg-type]


def test_a_hash_whose_pepper_key_is_gone_charges_no_failure(cheap: MakeVerifier) -> None:
    stored = cheap(keyring=Keyring.generate("gone"), pepper=True).hash(GOOD)
    pv = cheap(keyring=Keyring.generate("other"))
    with pytest.raises(KeyringError):
        pv.verify("u", stored, GOOD)
    assert pv.verify("u", None, GOOD).budget_left == pv.settings.lockout.threshold - 1


@pytest.mark.parametrize("client", ["", "x" * 300, 42])
def test_a_malformed_client_address_is_invalid_input(client: object, cheap: MakeVerifier) -> None:
    with pytest.raises(InvalidInput):
        cheap().verify("u", None, GOOD, client=client)  # type: ignore[arg-type]
