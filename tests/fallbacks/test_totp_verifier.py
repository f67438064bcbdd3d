"""TOTP: the right code approves once, within a window of steps, and guessing is capped."""

from __future__ import annotations

import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest

from verifykit import AuditEvent, InvalidInput, Keyring, Reason, TemplateError
from verifykit.fallbacks import TOTPEnrollment, TOTPSettings, TOTPVerifier
from verifykit.store import ChallengeStore, LockoutPolicy

MakeTOTP = Callable[..., TOTPVerifier]

T0 = 1_700_000_015.0  # 15 s into a 30-second step


def app(enrollment: TOTPEnrollment) -> pyotp.TOTP:
    """The authenticator app, computing codes independently from the secret it was shown."""
    return pyotp.TOTP(enrollment.secret_base32)


def enroll_distinct(totp: TOTPVerifier, offsets: range) -> TOTPEnrollment:
    """An enrolment whose codes at ``T0 + offset`` all differ (a random secret repeats one
    about once in a million), so a refusal can only come from the step, not a coincidence."""
    while True:
        enrollment = totp.enroll("user-1", "ana")
        codes = {app(enrollment).at(T0 + offset) for offset in offsets}
        if len(codes) == len(offsets):
            return enrollment


def test_enroll_returns_a_provisioning_uri_an_authenticator_app_understands(make_totp: MakeTOTP) -> None:
    enrollment = make_totp().enroll("user-1", "ana@example.com")
    uri = urlparse(enrollment.provisioning_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert "ana%40example.com" in uri.path or "ana@example.com" in uri.path
    query = parse_qs(uri.query)
    assert query["secret"] == [enrollment.secret_base32]
    assert query["issuer"] == ["verifykit"]
    assert len(enrollment.secret_base32) * 5 >= 160


def test_enrollment_repr_shows_no_secret(make_totp: MakeTOTP) -> None:
    enrollment = make_totp().enroll("user-1", "ana@example.com")
    assert enrollment.secret_base32 not in repr(enrollment)


def test_right_code_approves(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    verdict = totp.verify("user-1", enrollment.sealed_secret, app(enrollment).at(T0), at=T0)
    assert verdict.approved and verdict.reason is Reason.APPROVED


def test_code_typed_with_spaces_or_full_width_digits_approves(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    typed = code[:3] + " " + "".join(chr(0xFF10 + int(d)) for d in code[3:])
    assert totp.verify("user-1", enrollment.sealed_secret, typed, at=T0).approved


def test_wrong_code_denies(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    right = app(enrollment).at(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    verdict = totp.verify("user-1", enrollment.sealed_secret, wrong, at=T0)
    assert not verdict.approved and verdict.reason is Reason.WRONG_CODE
    assert verdict.attempts_left == TOTPSettings().lockout.threshold - 1


@pytest.mark.parametrize("offset", [-30, 30])
def test_previous_and_next_step_are_accepted_within_the_window(make_totp: MakeTOTP, offset: int) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0 + offset)
    assert totp.verify("user-1", enrollment.sealed_secret, code, at=T0).approved


@pytest.mark.parametrize("offset", [-60, 60])
def test_steps_outside_the_window_are_refused(make_totp: MakeTOTP, offset: int) -> None:
    totp = make_totp()
    enrollment = enroll_distinct(totp, range(-60, 61, 30))
    code = app(enrollment).at(T0 + offset)
    verdict = totp.verify("user-1", enrollment.sealed_secret, code, at=T0)
    assert verdict.reason is Reason.WRONG_CODE


def test_window_of_zero_accepts_only_the_current_step(make_totp: MakeTOTP) -> None:
    totp = make_totp(valid_window=0)
    enrollment = enroll_distinct(totp, range(-30, 1, 30))
    previous = app(enrollment).at(T0 - 30)
    assert totp.verify("user-1", enrollment.sealed_secret, previous, at=T0).reason is Reason.WRONG_CODE


def test_a_code_is_accepted_only_once(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    assert totp.verify("user-1", enrollment.sealed_secret, code, at=T0).approved
    again = totp.verify("user-1", enrollment.sealed_secret, code, at=T0 + 10)
    assert not again.approved and again.reason is Reason.REPLAYED


def test_a_used_code_is_refused_by_another_verifier_on_the_same_store(
    make_totp: MakeTOTP, store: ChallengeStore, keyring: Keyring
) -> None:
    first = make_totp()
    enrollment = first.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    assert first.verify("user-1", enrollment.sealed_secret, code, at=T0).approved
    second = TOTPVerifier(store=store, keyring=keyring, audit=None)
    assert second.verify("user-1", enrollment.sealed_secret, code, at=T0).reason is Reason.REPLAYED


def test_the_same_code_sent_twice_at_once_approves_exactly_once(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    barrier = threading.Barrier(2)
    reasons: list[Reason] = []

    def submit() -> None:
        barrier.wait()
        reasons.append(totp.verify("user-1", enrollment.sealed_secret, code, at=T0).reason)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reasons) == sorted([Reason.APPROVED, Reason.REPLAYED])


def test_a_used_code_does_not_block_the_same_step_for_another_subject(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    ana, budi = totp.enroll("user-1", "ana"), totp.enroll("user-2", "budi")
    assert totp.verify("user-1", ana.sealed_secret, app(ana).at(T0), at=T0).approved
    assert totp.verify("user-2", budi.sealed_secret, app(budi).at(T0), at=T0).approved


def test_a_secret_sealed_for_another_subject_does_not_open(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    with pytest.raises(TemplateError):
        totp.verify("user-2", enrollment.sealed_secret, app(enrollment).at(T0), at=T0)


def test_a_tampered_secret_does_not_open(make_totp: MakeTOTP) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    tampered = bytearray(enrollment.sealed_secret)
    tampered[-1] ^= 1
    with pytest.raises(TemplateError):
        totp.verify("user-1", bytes(tampered), app(enrollment).at(T0), at=T0)


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", "", 123456])
def test_malformed_code_is_invalid_input_and_spends_nothing(
    make_totp: MakeTOTP, store: ChallengeStore, keyring: Keyring, code: object
) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    with pytest.raises(InvalidInput):
        totp.verify("user-1", enrollment.sealed_secret, code, at=T0)  # type: ignore[arg-type]
    wrong = f"{(int(app(enrollment).at(T0)) + 1) % 1_000_000:06d}"
    assert totp.verify("user-1", enrollment.sealed_secret, wrong, at=T0).attempts_left == (
        TOTPSettings().lockout.threshold - 1
    )


def capped_at_three(make_totp: MakeTOTP) -> tuple[TOTPVerifier, TOTPEnrollment, str, str]:
    """A verifier that hard-locks after 3 failures, an enrolment, its right code and a wrong one."""
    totp = make_totp(lockout=LockoutPolicy(threshold=3, lockout=60, lockout_max=60, hard_cap=3))
    enrollment = totp.enroll("user-1", "ana")
    right = app(enrollment).at(T0)
    return totp, enrollment, right, f"{(int(right) + 1) % 1_000_000:06d}"


def test_consecutive_failures_lock_the_subject_out_even_for_the_right_code(make_totp: MakeTOTP) -> None:
    totp, enrollment, right, wrong = capped_at_three(make_totp)
    for _ in range(3):
        assert totp.verify("user-1", enrollment.sealed_secret, wrong, at=T0).reason is Reason.WRONG_CODE
    locked = totp.verify("user-1", enrollment.sealed_secret, right, at=T0)
    assert locked.reason is Reason.LOCKED_OUT
    assert locked.details["hard_locked"] == "true"
    assert locked.fallbacks


def test_success_resets_the_failure_count(make_totp: MakeTOTP) -> None:
    totp, enrollment, right, wrong = capped_at_three(make_totp)
    for _ in range(2):
        totp.verify("user-1", enrollment.sealed_secret, wrong, at=T0)
    assert totp.verify("user-1", enrollment.sealed_secret, right, at=T0).approved
    assert totp.verify("user-1", enrollment.sealed_secret, wrong, at=T0).attempts_left == 2


def test_audit_events_name_the_outcome_and_hold_no_secret_or_code(
    make_totp: MakeTOTP, events: list[AuditEvent]
) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    totp.verify("user-1", enrollment.sealed_secret, code, at=T0)
    totp.verify("user-1", enrollment.sealed_secret, code, at=T0)
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("enroll", "enrolled", "approved"),
        ("verify", "approved", "approved"),
        ("verify", "denied", "replayed"),
    ]
    for event in events:
        text = event.to_json()
        assert code not in text and enrollment.secret_base32 not in text
        assert event.verifier == "totp" and event.subject == "user-1"


def test_time_defaults_to_the_store_clock(make_totp: MakeTOTP, store: ChallengeStore) -> None:
    totp = make_totp()
    enrollment = totp.enroll("user-1", "ana")
    assert totp.verify("user-1", enrollment.sealed_secret, app(enrollment).at(store.now())).approved
