"""The assisted check: an operator's decision, on the record, and the way out of a hard lock."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest

from verifykit import AuditEvent, ConfigurationError, InvalidInput, Keyring, RateLimited, Reason, Verdict
from verifykit.fallbacks import DEFAULT_UNLOCKS, AssistedCheck, TOTPSettings, TOTPVerifier
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, LockoutPolicy
from verifykit.testing import Outbox, last_code

HARD_AFTER_TWO = LockoutPolicy(threshold=2, lockout=60, lockout_max=60, hard_cap=2)


def hard_locked_totp_subject(store: ChallengeStore, keyring: Keyring) -> Callable[[], Verdict]:
    """Lock user-1 out of TOTP for good; return a function that tries the right code."""
    totp = TOTPVerifier(
        store=store, keyring=keyring, settings=TOTPSettings(lockout=HARD_AFTER_TWO), audit=None
    )
    enrollment = totp.enroll("user-1", "ana")
    at = 1_700_000_015.0
    right = pyotp.TOTP(enrollment.secret_base32).at(at)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(2):
        totp.verify("user-1", enrollment.sealed_secret, wrong, at=at)
    return lambda: totp.verify("user-1", enrollment.sealed_secret, right, at=at)


def test_an_approval_is_an_approved_verdict_naming_what_it_unlocked(assisted: AssistedCheck) -> None:
    verdict = assisted.record("user-1", operator="op-siti", evidence="passport", approved=True)
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert verdict.details["unlocked"] == ",".join(DEFAULT_UNLOCKS)


def test_a_refusal_is_a_denied_verdict_that_unlocks_nothing(assisted: AssistedCheck) -> None:
    verdict = assisted.record("user-1", operator="op-siti", evidence="passport", approved=False)
    assert not verdict.approved and verdict.reason is Reason.DENIED
    assert "unlocked" not in verdict.details


def test_the_audit_event_names_operator_evidence_and_masked_document(
    assisted: AssistedCheck, events: list[AuditEvent]
) -> None:
    assisted.record(
        "user-1",
        operator="op-siti",
        evidence="national_id",
        document_ref_hint="4821",
        approved=True,
        note="photo matches, applicant at counter 3",
        client="10.0.0.7",
    )
    (event,) = events
    assert (event.action, event.verifier, event.subject, event.outcome) == (
        "record",
        "assisted",
        "user-1",
        "approved",
    )
    assert event.client == "10.0.0.7"
    assert event.details["operator"] == "op-siti"
    assert event.details["evidence"] == "national_id"
    assert event.details["document_ref_hint"] == "4821"
    assert event.details["note"] == "photo matches, applicant at counter 3"
    assert event.details["unlocked"] == ",".join(DEFAULT_UNLOCKS)


def test_a_refusal_is_on_the_record_too(assisted: AssistedCheck, events: list[AuditEvent]) -> None:
    assisted.record("user-1", operator="op-siti", evidence="passport", approved=False)
    (event,) = events
    assert (event.outcome, event.reason, event.details["operator"]) == ("denied", "denied", "op-siti")


def test_an_approval_reopens_a_hard_locked_email_otp_subject(
    assisted: AssistedCheck, store: ChallengeStore, keyring: Keyring
) -> None:
    outbox = Outbox()
    otp = EmailOTP(
        store=store, keyring=keyring, mailer=outbox, settings=OTPSettings(lockout=HARD_AFTER_TWO), audit=None
    )
    challenge = otp.start("user-1", "ana@example.com")
    wrong = f"{(int(last_code(outbox)) + 1) % 1_000_000:06d}"
    otp.check(challenge.id, wrong)
    otp.check(challenge.id, wrong)
    assert otp.check(challenge.id, last_code(outbox)).reason is Reason.LOCKED_OUT
    with pytest.raises(RateLimited):
        otp.start("user-1", "ana@example.com")

    assert assisted.record("user-1", operator="op-siti", evidence="passport", approved=True).approved

    again = otp.start("user-1", "ana@example.com")
    assert otp.check(again.id, last_code(outbox)).approved


def test_an_approval_reopens_a_hard_locked_totp_subject(
    assisted: AssistedCheck, store: ChallengeStore, keyring: Keyring
) -> None:
    try_right_code = hard_locked_totp_subject(store, keyring)
    assert try_right_code().reason is Reason.LOCKED_OUT

    assisted.record("user-1", operator="op-siti", evidence="passport", approved=True)

    assert try_right_code().approved


def test_a_refusal_leaves_a_lockout_in_place(
    assisted: AssistedCheck, store: ChallengeStore, keyring: Keyring
) -> None:
    try_right_code = hard_locked_totp_subject(store, keyring)

    assisted.record("user-1", operator="op-siti", evidence="passport", approved=False)

    assert try_right_code().reason is Reason.LOCKED_OUT


def test_only_the_listed_verifiers_are_unlocked(store: ChallengeStore, keyring: Keyring) -> None:
    try_right_code = hard_locked_totp_subject(store, keyring)

    only_otp = AssistedCheck(store=store, keyring=keyring, audit=None, unlocks=("otp",))
    assert only_otp.record("user-1", operator="op-siti", evidence="passport", approved=True).details == {
        "unlocked": "otp"
    }
    assert try_right_code().reason is Reason.LOCKED_OUT


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("operator", ""),
        ("operator", "op\nsiti"),
        ("operator", "x" * 129),
        ("evidence", "Passport!"),
        ("evidence", ""),
        ("evidence", "p" * 40),
        ("document_ref_hint", "A1234567"),
        ("document_ref_hint", "12-4"),
        ("note", "line one\x00"),
        ("note", "n" * 501),
        ("subject", "user\t1"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    assisted: AssistedCheck, events: list[AuditEvent], field: str, value: str
) -> None:
    fields: dict[str, str] = {"subject": "user-1", "operator": "op-siti", "evidence": "passport"}
    fields[field] = value
    subject = fields.pop("subject")
    with pytest.raises(InvalidInput) as raised:
        assisted.record(subject, approved=True, **fields)
    assert raised.value.field == field
    assert events == []


def test_four_eyes_requires_a_second_different_operator_to_approve(
    store: ChallengeStore, keyring: Keyring, events: list[AuditEvent]
) -> None:
    four_eyes = AssistedCheck(store=store, keyring=keyring, audit=events.append, require_second_operator=True)
    with pytest.raises(InvalidInput):
        four_eyes.record("user-1", operator="op-siti", evidence="passport", approved=True)
    with pytest.raises(InvalidInput):
        four_eyes.record(
            "user-1", operator="op-siti", evidence="passport", approved=True, second_operator="op-siti"
        )
    assert events == []
    verdict = four_eyes.record(
        "user-1", operator="op-siti", evidence="passport", approved=True, second_operator="op-budi"
    )
    assert verdict.approved
    assert events[0].details["second_operator"] == "op-budi"


def test_four_eyes_lets_one_operator_refuse(store: ChallengeStore, keyring: Keyring) -> None:
    four_eyes = AssistedCheck(store=store, keyring=keyring, audit=None, require_second_operator=True)
    assert four_eyes.record("user-1", operator="op-siti", evidence="passport", approved=False).reason is (
        Reason.DENIED
    )


def test_unlocks_must_name_verifiers() -> None:
    with pytest.raises(ConfigurationError):
        AssistedCheck(unlocks="otp")
    with pytest.raises(ConfigurationError):
        AssistedCheck(unlocks=("otp", "{x}:fail"))
