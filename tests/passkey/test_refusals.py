"""Passkeys: each way a response can be wrong is refused with a reason of its own."""

from __future__ import annotations

import pytest
from authenticator import RP_ID, UP, SoftAuthenticator
from passkey_support import SETTINGS, Build, Enrolled

from verifykit import AuditEvent, AuditUnavailable, Keyring, Reason, TemplateError
from verifykit.passkey import PasskeyVerifier
from verifykit.testing import FakeClock

# -- registration ------------------------------------------------------------------------------


def register(build: Build, **create: object) -> Reason:
    passkeys = build.passkeys()
    options = passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    response = SoftAuthenticator().create(options.options_json, **create)  # type: ignore[arg-type]
    enrollment = passkeys.register("user-1", options.challenge_id, response)
    assert enrollment.approved or enrollment.stored is None
    return enrollment.reason


def test_a_registration_from_another_origin_is_refused(build: Build) -> None:
    assert register(build, origin="https://example.com.evil.test") is Reason.WRONG_ORIGIN


def test_a_registration_for_another_rp_id_is_refused(build: Build) -> None:
    assert register(build, rp_id="evil.test") is Reason.WRONG_RP_ID


def test_a_registration_without_user_verification_is_refused(build: Build) -> None:
    assert register(build, uv=False) is Reason.USER_NOT_VERIFIED


def test_a_registration_challenge_answers_once(build: Build) -> None:
    passkeys = build.passkeys()
    options = passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    response = SoftAuthenticator().create(options.options_json)
    assert passkeys.register("user-1", options.challenge_id, response).approved
    assert passkeys.register("user-1", options.challenge_id, response).reason is Reason.REPLAYED


def test_a_registration_challenge_does_not_sign_in(build: Build) -> None:
    enrolled = build.enrolled()
    options = enrolled.passkeys.registration_options("user-1", user_name="ana", display_name="Ana")
    response = enrolled.authenticator.get(options.options_json, rp_id=RP_ID)
    verdict = enrolled.passkeys.verify(
        "user-1", options.challenge_id, response, credentials=[enrolled.stored]
    )
    assert verdict.reason is Reason.NOT_FOUND


# -- authentication ----------------------------------------------------------------------------


@pytest.fixture
def enrolled(build: Build) -> Enrolled:
    return build.enrolled()


def test_a_response_relayed_from_another_origin_is_refused(enrolled: Enrolled) -> None:
    # A phishing page at a look-alike origin passes the real challenge to the real authenticator.
    assert enrolled.sign_in(origin="https://examp1e.com").reason is Reason.WRONG_ORIGIN


def test_an_assertion_for_another_rp_id_is_refused(enrolled: Enrolled) -> None:
    assert enrolled.sign_in(rp_id="evil.test").reason is Reason.WRONG_RP_ID


def test_a_challenge_answers_once(enrolled: Enrolled) -> None:
    challenge_id, options = enrolled.begin()
    response = enrolled.authenticator.get(options)
    first = enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])
    second = enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])
    assert first.approved
    assert second.reason is Reason.REPLAYED


def test_an_old_response_is_refused_against_a_new_challenge(enrolled: Enrolled) -> None:
    _old_id, old_options = enrolled.begin()
    captured = enrolled.authenticator.get(old_options)
    challenge_id, _options = enrolled.begin()
    verdict = enrolled.passkeys.verify("user-1", challenge_id, captured, credentials=[enrolled.stored])
    assert verdict.reason is Reason.REPLAYED


def test_a_challenge_past_its_lifetime_is_refused_as_expired(
    clocked: PasskeyVerifier, clock: FakeClock
) -> None:
    enrolled = Enrolled(clocked, "user-1", SoftAuthenticator())
    challenge_id, options = enrolled.begin()
    clock.advance(SETTINGS.challenge_ttl + 1)
    verdict = clocked.verify(
        "user-1", challenge_id, enrolled.authenticator.get(options), credentials=[enrolled.stored]
    )
    assert verdict.reason is Reason.EXPIRED


def test_a_registration_challenge_past_its_lifetime_is_refused_as_expired(
    clocked: PasskeyVerifier, clock: FakeClock
) -> None:
    options = clocked.registration_options("user-1", user_name="ana", display_name="Ana")
    clock.advance(SETTINGS.challenge_ttl)
    response = SoftAuthenticator().create(options.options_json)
    assert clocked.register("user-1", options.challenge_id, response).reason is Reason.EXPIRED


def test_a_tampered_signature_is_refused(enrolled: Enrolled) -> None:
    assert enrolled.sign_in(flip_signature=True).reason is Reason.BAD_SIGNATURE


def test_flags_rewritten_after_signing_are_refused_as_a_bad_signature(build: Build) -> None:
    # Someone in the middle claims user verification the authenticator never did.
    enrolled = build.enrolled(passkeys=build.passkeys(user_verification="preferred"))
    verdict = enrolled.sign_in(uv=False, flags_after_signing=UP | 0x04)
    assert verdict.reason is Reason.BAD_SIGNATURE


def test_a_counter_that_goes_back_is_refused_as_a_cloned_authenticator(enrolled: Enrolled) -> None:
    assert enrolled.sign_in().approved  # the original is at 2 now
    verdict = enrolled.sign_in(sign_count=2)  # a copy of its key, one use behind
    assert verdict.reason is Reason.CLONED_AUTHENTICATOR
    assert (verdict.details["stored_sign_count"], verdict.details["signed_sign_count"]) == ("2", "2")


def test_a_cloned_authenticator_leaves_a_decision_record(
    enrolled: Enrolled, events: list[AuditEvent]
) -> None:
    enrolled.sign_in(sign_count=1)
    record = events[-1]
    assert (record.action, record.outcome, record.reason) == ("verify", "denied", "cloned_authenticator")
    assert record.details["credential_id"] == enrolled.enrollment.details["credential_id"]
    assert record.details["stored_sign_count"] == "1"


def test_a_cloned_authenticator_is_not_refused_unrecorded(build: Build) -> None:
    def broken(_event: AuditEvent) -> None:
        raise OSError("disk full")

    enrolled = build.enrolled(passkeys=build.passkeys(audit=broken))
    with pytest.raises(AuditUnavailable):
        enrolled.sign_in(sign_count=0)


def test_presence_without_user_verification_is_refused(enrolled: Enrolled) -> None:
    assert enrolled.sign_in(uv=False).reason is Reason.USER_NOT_VERIFIED


def test_no_user_presence_is_refused_even_where_verification_is_not_required(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(user_verification="discouraged"))
    assert enrolled.sign_in(up=False, uv=False).reason is Reason.USER_NOT_VERIFIED


def test_a_passkey_the_subject_never_registered_is_refused(enrolled: Enrolled) -> None:
    stranger = SoftAuthenticator()
    stranger.user_handle = enrolled.authenticator.user_handle
    challenge_id, options = enrolled.begin()
    verdict = enrolled.passkeys.verify(
        "user-1", challenge_id, stranger.get(options), credentials=[enrolled.stored]
    )
    assert verdict.reason is Reason.UNKNOWN_CREDENTIAL


def test_a_response_naming_another_accounts_user_handle_is_refused(enrolled: Enrolled) -> None:
    assert enrolled.sign_in(user_handle=b"another-account").reason is Reason.UNKNOWN_CREDENTIAL


def test_another_subjects_challenge_is_not_found_and_stays_usable_by_its_subject(build: Build) -> None:
    passkeys = build.passkeys()
    ana, bob = build.enrolled("ana", passkeys), build.enrolled("bob", passkeys)
    challenge_id, options = ana.begin()
    stolen = passkeys.verify("bob", challenge_id, bob.authenticator.get(options), credentials=[bob.stored])
    assert stolen.reason is Reason.NOT_FOUND
    assert passkeys.verify(
        "ana", challenge_id, ana.authenticator.get(options), credentials=[ana.stored]
    ).approved


def test_a_stored_passkey_of_another_subject_is_refused_before_anything_is_spent(build: Build) -> None:
    passkeys = build.passkeys()
    ana, bob = build.enrolled("ana", passkeys), build.enrolled("bob", passkeys)
    challenge_id, options = ana.begin()
    with pytest.raises(TemplateError):
        passkeys.verify("ana", challenge_id, ana.authenticator.get(options), credentials=[bob.stored])
    assert passkeys.verify(
        "ana", challenge_id, ana.authenticator.get(options), credentials=[ana.stored]
    ).approved


def test_a_stored_passkey_changed_by_anyone_is_refused(enrolled: Enrolled, keyring: Keyring) -> None:
    prefix, body, mac = enrolled.stored.split(".")
    changed = f"{prefix}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{mac}"
    with pytest.raises(TemplateError):
        enrolled.passkeys.credential("user-1", changed)


# -- the relying party -----------------------------------------------------------------------------

LOGIN_RP_ID = "login.example.com"
LOGIN_ORIGIN = "https://login.example.com"


def test_a_sign_in_challenge_of_another_relying_party_is_not_found_and_stays_usable_there(
    build: Build,
) -> None:
    # Two relying parties share one store and one keyring; the login one issues the challenge.
    main = build.passkeys()
    login = build.passkeys(rp_id=LOGIN_RP_ID, origins=(LOGIN_ORIGIN,))
    enrolled = build.enrolled("ana", main)
    issued = login.authentication_options("ana", credentials=[enrolled.stored])
    # Everything the main one checks besides the challenge's record holds: its rp id, its origin.
    carried = enrolled.authenticator.get(issued.options_json, rp_id=RP_ID)
    verdict = main.verify("ana", issued.challenge_id, carried, credentials=[enrolled.stored])
    assert verdict.reason is Reason.NOT_FOUND
    answer = enrolled.authenticator.get(issued.options_json, origin=LOGIN_ORIGIN)
    assert login.verify("ana", issued.challenge_id, answer, credentials=[enrolled.stored]).approved, (
        "the refused attempt did not spend the challenge"
    )


def test_a_registration_challenge_of_another_relying_party_is_not_found_and_stays_usable_there(
    build: Build,
) -> None:
    main = build.passkeys()
    login = build.passkeys(rp_id=LOGIN_RP_ID, origins=(LOGIN_ORIGIN,))
    issued = main.registration_options("ana", user_name="ana", display_name="Ana")
    device = SoftAuthenticator()
    carried = device.create(issued.options_json, rp_id=LOGIN_RP_ID, origin=LOGIN_ORIGIN)
    refused = login.register("ana", issued.challenge_id, carried)
    assert (refused.reason, refused.stored) == (Reason.NOT_FOUND, None)
    assert main.register("ana", issued.challenge_id, device.create(issued.options_json)).approved, (
        "the refused attempt did not spend the challenge"
    )
