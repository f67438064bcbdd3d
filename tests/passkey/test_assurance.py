"""Passkeys: what one is worth under NIST SP 800-63B-4, from the facts its registration proved."""

from __future__ import annotations

import pytest
from authenticator import EDDSA, SoftAuthenticator, TestCA
from passkey_support import Build

from verifykit import Reason
from verifykit.passkey import PasskeyCredential, assurance


@pytest.fixture
def vendor() -> TestCA:
    """The root of a hardware-key vendor whose attestation the operator trusts."""
    return TestCA()


def registered(build: Build, vendor: TestCA, **authenticator: object) -> PasskeyCredential:
    passkeys = build.passkeys(attestation="direct", attestation_roots=(vendor.pem,))
    credential = build.enrolled(passkeys=passkeys, **authenticator).enrollment.credential
    assert credential is not None
    return credential


def test_a_device_bound_key_whose_attestation_the_operator_trusts_reaches_aal3(
    build: Build, vendor: TestCA
) -> None:
    credential = registered(build, vendor, attestation="packed", ca=vendor)
    assert credential.trusted_attestation and credential.device_bound
    assert assurance(credential) == 3


def test_a_synced_passkey_stays_at_aal2_whatever_its_attestation(build: Build, vendor: TestCA) -> None:
    credential = registered(
        build, vendor, attestation="packed", ca=vendor, backup_eligible=True, backed_up=True
    )
    assert credential.trusted_attestation and not credential.device_bound
    assert assurance(credential) == 2


def test_attestation_from_a_root_the_operator_does_not_trust_is_accepted_at_aal2(
    build: Build, vendor: TestCA
) -> None:
    credential = registered(build, vendor, attestation="packed", ca=TestCA("Unknown Vendor Root"))
    assert not credential.trusted_attestation
    assert assurance(credential) == 2


def test_self_attestation_proves_nothing_about_the_hardware(build: Build, vendor: TestCA) -> None:
    credential = registered(build, vendor, attestation="self", algorithm=EDDSA)
    assert credential.attestation_format == "packed" and not credential.trusted_attestation
    assert assurance(credential) == 2


def test_no_attestation_is_aal2(build: Build) -> None:
    credential = build.enrolled().enrollment.credential
    assert credential is not None and credential.attestation_format == "none"
    assert assurance(credential) == 2


def test_a_forged_attestation_signature_is_refused(build: Build, vendor: TestCA) -> None:
    passkeys = build.passkeys(attestation="direct", attestation_roots=(vendor.pem,))
    options = passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    response = SoftAuthenticator(attestation="packed", ca=vendor).create(
        options.options_json, bad_attestation_signature=True
    )
    enrollment = passkeys.register("user-1", options.challenge_id, response)
    assert enrollment.reason is Reason.BAD_SIGNATURE and enrollment.stored is None


def test_the_assurance_facts_survive_storage(build: Build, vendor: TestCA) -> None:
    passkeys = build.passkeys(attestation="direct", attestation_roots=(vendor.pem,))
    enrolled = build.enrolled(passkeys=passkeys, attestation="packed", ca=vendor)
    assert assurance(passkeys.credential("user-1", enrolled.stored)) == 3
