"""Passkeys: a registered passkey signs its subject in, for either key type, in either flavour."""

from __future__ import annotations

import json

import pytest
from authenticator import EDDSA, ES256, RP_ID, SoftAuthenticator, b64url
from passkey_support import SETTINGS, Build, Enrolled

from verifykit import Keyring, Reason
from verifykit.passkey import PasskeyVerifier
from verifykit.store import MemoryStore

KEY_TYPES = pytest.mark.parametrize("algorithm", [ES256, EDDSA], ids=["ES256", "EdDSA"])


@KEY_TYPES
def test_a_registered_passkey_signs_its_subject_in(build: Build, algorithm: int) -> None:
    enrolled = build.enrolled(algorithm=algorithm)
    verdict = enrolled.sign_in()
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert verdict.details["credential_id"] == b64url(enrolled.authenticator.credential_id)


@pytest.mark.async_too
def test_register_and_sign_in_in_each_flavour_on_each_backend(build: Build) -> None:
    enrolled = build.enrolled()
    assert enrolled.sign_in().approved
    assert enrolled.sign_in().approved


@KEY_TYPES
def test_registration_hands_back_the_credential_to_keep(build: Build, algorithm: int) -> None:
    enrolled = build.enrolled(algorithm=algorithm, transports=("usb", "nfc"))
    credential = enrolled.enrollment.credential
    assert credential is not None
    assert credential.algorithm == algorithm
    assert credential.transports == ("usb", "nfc")
    assert credential.sign_count == 1
    assert credential.device_bound and not credential.backed_up
    assert enrolled.passkeys.credential("user-1", enrolled.stored) == credential
    assert credential.credential_id == enrolled.authenticator.credential_id


def test_registration_options_name_the_relying_party_and_ask_for_user_verification(build: Build) -> None:
    options = json.loads(
        build.passkeys()
        .registration_options("user-1", user_name="ana@example.com", display_name="Ana")
        .options_json
    )
    assert options["rp"] == {"id": RP_ID, "name": "Example"}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["attestation"] == "none"
    assert [p["alg"] for p in options["pubKeyCredParams"]] == [-8, -7, -257]
    assert options["timeout"] == 120_000
    assert options["user"]["name"] == "ana@example.com"
    assert "user-1" not in json.dumps(options)  # the account id never reaches an authenticator


def test_registration_options_exclude_the_subjects_passkeys(build: Build) -> None:
    enrolled = build.enrolled()
    options = enrolled.passkeys.registration_options(
        "user-1", user_name="ana", display_name="Ana", exclude=[enrolled.stored]
    )
    excluded = json.loads(options.options_json)["excludeCredentials"]
    assert excluded == [
        {"type": "public-key", "id": b64url(enrolled.authenticator.credential_id), "transports": ["usb"]}
    ]


def test_authentication_options_allow_only_the_subjects_passkeys(build: Build) -> None:
    enrolled = build.enrolled()
    _challenge_id, options = enrolled.begin()
    parsed = json.loads(options)
    assert parsed["rpId"] == RP_ID
    assert [c["id"] for c in parsed["allowCredentials"]] == [b64url(enrolled.authenticator.credential_id)]
    assert parsed["userVerification"] == "required"


def test_each_sign_in_hands_back_the_credential_with_its_new_counter(build: Build) -> None:
    enrolled = build.enrolled()
    verdict = enrolled.sign_in(keep=False)
    assert verdict.approved and isinstance(verdict.stored, str)
    assert enrolled.passkeys.credential("user-1", verdict.stored).sign_count == 2


def test_a_synced_passkey_without_a_counter_needs_nothing_stored_again(build: Build) -> None:
    enrolled = build.enrolled(backup_eligible=True, backed_up=True, counter_step=0)
    for _ in range(2):
        verdict = enrolled.sign_in()
        assert verdict.approved and verdict.stored is None


def test_an_origin_below_the_rp_id_that_the_settings_allow_signs_in(build: Build) -> None:
    enrolled = build.enrolled()
    assert enrolled.sign_in(origin="https://login.example.com").approved


def test_user_presence_is_enough_where_verification_is_only_preferred(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(user_verification="preferred"))
    verdict = enrolled.sign_in(uv=False)
    assert verdict.approved and verdict.details["user_verified"] == "false"


def test_approvals_and_refusals_are_audited_without_challenges_or_signatures(
    build: Build, events: list
) -> None:
    enrolled = build.enrolled()
    challenge_id, options = enrolled.begin()
    response = enrolled.authenticator.get(options)
    enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])
    enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])
    decisions = [(e.action, e.outcome, e.reason) for e in events]
    assert decisions == [
        ("enroll", "enrolled", "approved"),
        ("verify", "approved", "approved"),
        ("verify", "denied", "replayed"),
    ]
    written = " ".join(e.to_json() for e in events)
    assert json.loads(options)["challenge"] not in written
    assert json.loads(response)["response"]["signature"] not in written
    assert "user-1" in written  # who: the subject


def test_a_sign_in_after_a_key_rotation_hands_back_the_credential_under_the_new_key() -> None:
    keys, store = Keyring.new_keyring_string("k1"), MemoryStore()
    before = PasskeyVerifier(store=store, keyring=Keyring.from_string(keys), settings=SETTINGS, audit=None)
    synced = SoftAuthenticator(backup_eligible=True, backed_up=True, counter_step=0)  # nothing else changes
    enrolled = Enrolled(before, "user-1", synced)
    rotated = Keyring.from_string(f"{keys},{Keyring.new_key_string('k2')}")
    enrolled.passkeys = PasskeyVerifier(store=store, keyring=rotated, settings=SETTINGS, audit=None)
    moved = enrolled.sign_in()
    assert moved.approved and isinstance(moved.stored, str) and ".k2:" in moved.stored
    assert enrolled.sign_in().stored is None  # under the current key now: nothing to store again
