"""The assisted check: an operator's decision, on the record, and the way out of a hard lock."""

from __future__ import annotations

from collections.abc import Callable

import pyotp
import pytest
from fallback_support import Build

from verifykit import (
    AuditEvent,
    ConfigurationError,
    InvalidInput,
    Keyring,
    RateLimited,
    Reason,
    Verdict,
    VerifierId,
    aio,
)
from verifykit.fallbacks import DEFAULT_UNLOCKS, AssistedCheck, AssistedSettings
from verifykit.otp import OTPSettings
from verifykit.store import LockoutPolicy, MemoryStore, WindowPolicy
from verifykit.testing import Outbox, last_code

HARD_AFTER_TWO = LockoutPolicy(threshold=2, lockout=60, lockout_max=60, hard_cap=2)


def hard_locked_totp_subject(build: Build) -> Callable[[], Verdict]:
    """Lock user-1 out of TOTP for good; return a function that tries the right code."""
    totp = build.totp(audit=None, lockout=HARD_AFTER_TWO)
    enrollment = totp.enroll("user-1", "ana")
    at = 1_700_000_015.0
    right = pyotp.TOTP(enrollment.secret_base32).at(at)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(2):
        totp.verify("user-1", enrollment.stored, wrong, at=at)
    return lambda: totp.verify("user-1", enrollment.stored, right, at=at)


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


def test_an_approval_reopens_a_hard_locked_email_otp_subject(assisted: AssistedCheck, build: Build) -> None:
    outbox = Outbox()
    otp = build.email_otp(outbox, OTPSettings(lockout=HARD_AFTER_TWO))
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


def test_an_approval_reopens_a_hard_locked_totp_subject(assisted: AssistedCheck, build: Build) -> None:
    try_right_code = hard_locked_totp_subject(build)
    assert try_right_code().reason is Reason.LOCKED_OUT

    assisted.record("user-1", operator="op-siti", evidence="passport", approved=True)

    assert try_right_code().approved


def test_a_refusal_leaves_a_lockout_in_place(assisted: AssistedCheck, build: Build) -> None:
    try_right_code = hard_locked_totp_subject(build)

    assisted.record("user-1", operator="op-siti", evidence="passport", approved=False)

    assert try_right_code().reason is Reason.LOCKED_OUT


def test_only_the_listed_verifiers_are_unlocked(build: Build) -> None:
    try_right_code = hard_locked_totp_subject(build)

    only_otp = build.assisted(audit=None, unlocks=(VerifierId.OTP,))
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
    build: Build, events: list[AuditEvent]
) -> None:
    four_eyes = build.assisted(require_second_operator=True)
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


def test_four_eyes_lets_one_operator_refuse(build: Build) -> None:
    four_eyes = build.assisted(audit=None, settings=AssistedSettings.preset("four_eyes"))
    assert four_eyes.record("user-1", operator="op-siti", evidence="passport", approved=False).reason is (
        Reason.DENIED
    )


def test_unlocks_must_name_verifiers() -> None:
    with pytest.raises(ConfigurationError):
        AssistedSettings(unlocks="otp")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        AssistedSettings(unlocks=("otp", "{x}:fail"))  # type: ignore[arg-type]


def test_unlocks_are_verifier_ids_and_the_default_is_every_locking_verifier() -> None:
    assert AssistedSettings().unlocks == DEFAULT_UNLOCKS
    assert set(DEFAULT_UNLOCKS) == set(VerifierId) - {VerifierId.ASSISTED}
    assert AssistedSettings(unlocks=("otp",)).unlocks == (VerifierId.OTP,)  # type: ignore[arg-type]


def test_a_client_beyond_its_limit_is_rate_limited_and_unlocks_nothing(
    build: Build, events: list[AuditEvent]
) -> None:
    try_right_code = hard_locked_totp_subject(build)
    desk = build.assisted(client_limit=WindowPolicy(limit=1, window=3600))
    desk.record("user-2", operator="op-siti", evidence="passport", approved=False, client="10.0.0.7")

    limited = desk.record("user-1", operator="op-siti", evidence="passport", approved=True, client="10.0.0.7")

    assert limited.reason is Reason.RATE_LIMITED and limited.retry_after
    assert try_right_code().reason is Reason.LOCKED_OUT
    assert (events[-1].outcome, events[-1].reason) == ("refused", "rate_limited")


def test_a_malformed_client_is_invalid_input(assisted: AssistedCheck) -> None:
    with pytest.raises(InvalidInput):
        assisted.record("user-1", operator="op-siti", evidence="passport", approved=True, client="")


@pytest.mark.parametrize("verifier", [AssistedCheck, aio.AssistedCheck])
def test_store_and_keyring_are_required(verifier: type[AssistedCheck]) -> None:
    with pytest.raises(TypeError):
        verifier(keyring=Keyring.generate())  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        verifier(store=MemoryStore())  # type: ignore[call-arg]
