"""The NIST SP 800-63B policy: length, blocklist, repetition, sequences, context words."""

from __future__ import annotations

import pytest
from password_support import GOOD, MakeVerifier

from verifykit import ConfigurationError, InvalidInput, Reason
from verifykit.password import (
    MAX_PASSWORD_BYTES,
    PasswordPolicy,
    PasswordVerifier,
    PolicyResult,
    PolicyViolation,
)
from verifykit.password._blocklist import Blocklist


@pytest.fixture
def pv(cheap: MakeVerifier) -> PasswordVerifier:
    return cheap(service_name="Acme Portal")


def test_a_long_uncommon_passphrase_passes(pv: PasswordVerifier) -> None:
    assert pv.check_policy(GOOD) == PolicyResult(True, Reason.APPROVED, "")


def test_fewer_than_eight_characters_is_too_short(pv: PasswordVerifier) -> None:
    result = pv.check_policy("x7#Kq!p")
    assert (result.approved, result.reason) == (False, Reason.TOO_SHORT)
    assert "8 characters" in result.message


def test_the_minimum_length_is_configurable_for_single_factor_use() -> None:
    policy = PasswordPolicy(min_length=15)
    assert policy.check("x7#Kq!pZ3mN").reason == Reason.TOO_SHORT
    assert policy.check("x7#Kq!pZ3mN-9vLw").approved


def test_length_counts_characters_not_bytes() -> None:
    assert PasswordPolicy().check("ßüéøñçåæ").approved


def test_sixty_four_characters_and_more_are_accepted(pv: PasswordVerifier) -> None:
    long = "the quick brown fox jumps over the lazy dog and keeps on running!"
    assert len(long) >= 64
    assert pv.check_policy(long).approved


def test_no_composition_rules_apply(pv: PasswordVerifier) -> None:
    assert pv.check_policy("plain lower case words only").approved


def test_a_password_over_the_byte_cap_is_refused_without_hashing(pv: PasswordVerifier) -> None:
    result = pv.check_policy("x" * (MAX_PASSWORD_BYTES + 1))
    assert result.reason == Reason.TOO_LONG
    with pytest.raises(PolicyViolation) as err:
        pv.hash("é" * (MAX_PASSWORD_BYTES // 2 + 1))
    assert err.value.reason == Reason.TOO_LONG


def test_a_character_that_nfkc_expands_past_the_cap_is_refused() -> None:
    # U+FDFA expands to 18 characters (33 bytes) under NFKC.
    assert PasswordPolicy().check("\ufdfa" * 200).reason == Reason.TOO_LONG


@pytest.mark.parametrize("common", ["password", "Password1", "qwerty123", "iloveyou", "PASSWORD"])
def test_common_breached_passwords_are_refused_whatever_their_case(pv: PasswordVerifier, common: str) -> None:
    assert pv.check_policy(common).reason == Reason.BREACHED


@pytest.mark.parametrize("repetitive", ["zzzzzzzzzz", "xyzxyzxyzxyz", "q1q1q1q1q1", "aaaaaaab"])
def test_repetitive_strings_are_refused(repetitive: str) -> None:
    assert PasswordPolicy(blocklist=False).check(repetitive).reason == Reason.REPETITIVE


@pytest.mark.parametrize("sequential", ["abcdefghijk", "98765432", "lmnopqrstu", "sdfghjkl"])
def test_sequential_strings_are_refused(sequential: str) -> None:
    assert PasswordPolicy(blocklist=False).check(sequential).reason == Reason.SEQUENTIAL


def test_the_subject_may_not_be_in_the_password(pv: PasswordVerifier) -> None:
    assert pv.check_policy("mariasilva-winter", subject="MariaSilva").reason == Reason.CONTEXT


def test_an_email_local_part_may_not_be_in_the_password(pv: PasswordVerifier) -> None:
    result = pv.check_policy("my name is Jo.Bloggs ok", context=["jo.bloggs@example.org"])
    assert result.reason == Reason.CONTEXT
    assert (
        pv.check_policy("bloggs forever and ever", context=["jo.bloggs@example.org"]).reason == Reason.CONTEXT
    )


def test_the_service_name_may_not_be_in_the_password(pv: PasswordVerifier) -> None:
    assert pv.check_policy("my acme portal login").reason == Reason.CONTEXT


def test_the_result_names_the_rule_but_never_echoes_the_password(pv: PasswordVerifier) -> None:
    secret = "mariasilva-winter"
    result = pv.check_policy(secret, subject="mariasilva")
    assert secret not in result.message and "winter" not in result.message


def test_hash_raises_a_policy_violation_carrying_the_result(pv: PasswordVerifier) -> None:
    with pytest.raises(PolicyViolation) as err:
        pv.hash("password")
    assert isinstance(err.value, InvalidInput)
    assert err.value.reason == Reason.BREACHED
    assert err.value.result == pv.check_policy("password")
    assert err.value.code == "weak_password"


def test_rules_can_be_switched_off_one_by_one() -> None:
    assert PasswordPolicy(blocklist=False).check("iloveyou").approved
    assert PasswordPolicy(blocklist=False, repetitive=False).check("zzzzzzzzzz").approved
    assert PasswordPolicy(blocklist=False, sequential=False).check("lmnopqrstu").approved
    assert PasswordPolicy(context=False).check("mariasilva-winter", context=["mariasilva"]).approved


def test_a_custom_blocklist_replaces_the_shipped_one() -> None:
    custom = Blocklist(["tr0ub4dor&3"])
    assert PasswordPolicy().check("Tr0ub4dor&3", blocklist=custom).reason == Reason.BREACHED
    assert PasswordPolicy().check("password", blocklist=custom).approved


@pytest.mark.parametrize("bad", [None, 12345678, b"password"])
def test_a_password_that_is_not_text_is_invalid_input(pv: PasswordVerifier, bad: object) -> None:
    with pytest.raises(InvalidInput):
        pv.check_policy(bad)  # type: ignore[arg-type]


def test_a_single_string_as_context_is_refused(pv: PasswordVerifier) -> None:
    with pytest.raises(InvalidInput):
        pv.check_policy(GOOD, context="ana@example.com")


@pytest.mark.parametrize(
    "kwargs",
    [{"min_length": 0}, {"max_length": 63}, {"max_length": MAX_PASSWORD_BYTES + 1}, {"min_length": 300}],
)
def test_impossible_policies_are_configuration_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ConfigurationError):
        PasswordPolicy(**kwargs)
