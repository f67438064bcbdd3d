"""TOTP: the right code approves once, within a window of steps, and guessing is capped."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from fallback_support import Build

from verifykit import (
    AuditEvent,
    ConfigurationError,
    InvalidInput,
    Keyring,
    Reason,
    TemplateError,
    Verdict,
    aio,
)
from verifykit.aio import AsyncChallengeStore
from verifykit.fallbacks import TOTPEnrollment, TOTPSettings, TOTPVerifier
from verifykit.store import LockoutPolicy, MemoryStore, WindowPolicy

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


def test_enroll_returns_a_provisioning_uri_an_authenticator_app_understands(build: Build) -> None:
    enrollment = build.totp().enroll("user-1", "ana@example.com")
    uri = urlparse(enrollment.provisioning_uri)
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert "ana%40example.com" in uri.path or "ana@example.com" in uri.path
    query = parse_qs(uri.query)
    assert query["secret"] == [enrollment.secret_base32]
    assert query["issuer"] == ["verifykit"]
    assert len(enrollment.secret_base32) * 5 >= 160


def test_enrollment_repr_shows_no_secret(build: Build) -> None:
    enrollment = build.totp().enroll("user-1", "ana@example.com")
    assert enrollment.secret_base32 not in repr(enrollment)


def test_right_code_approves(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    verdict = totp.verify("user-1", enrollment.stored, app(enrollment).at(T0), at=T0)
    assert verdict.approved and verdict.reason is Reason.APPROVED


def test_code_typed_with_spaces_or_full_width_digits_approves(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    typed = code[:3] + " " + "".join(chr(0xFF10 + int(d)) for d in code[3:])
    assert totp.verify("user-1", enrollment.stored, typed, at=T0).approved


def test_wrong_code_denies(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    right = app(enrollment).at(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    verdict = totp.verify("user-1", enrollment.stored, wrong, at=T0)
    assert not verdict.approved and verdict.reason is Reason.WRONG_CODE
    assert verdict.budget_left == TOTPSettings().lockout.threshold - 1


@pytest.mark.parametrize("offset", [-30, 30])
def test_previous_and_next_step_are_accepted_within_the_window(build: Build, offset: int) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0 + offset)
    assert totp.verify("user-1", enrollment.stored, code, at=T0).approved


@pytest.mark.parametrize("offset", [-60, 60])
def test_steps_outside_the_window_are_refused(build: Build, offset: int) -> None:
    totp = build.totp()
    enrollment = enroll_distinct(totp, range(-60, 61, 30))
    code = app(enrollment).at(T0 + offset)
    verdict = totp.verify("user-1", enrollment.stored, code, at=T0)
    assert verdict.reason is Reason.WRONG_CODE


def test_window_of_zero_accepts_only_the_current_step(build: Build) -> None:
    totp = build.totp(valid_window=0)
    enrollment = enroll_distinct(totp, range(-30, 1, 30))
    previous = app(enrollment).at(T0 - 30)
    assert totp.verify("user-1", enrollment.stored, previous, at=T0).reason is Reason.WRONG_CODE


def test_a_code_is_accepted_only_once(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    assert totp.verify("user-1", enrollment.stored, code, at=T0).approved
    again = totp.verify("user-1", enrollment.stored, code, at=T0 + 10)
    assert not again.approved and again.reason is Reason.REPLAYED


def test_a_used_code_is_refused_by_another_verifier_on_the_same_store(build: Build) -> None:
    first = build.totp()
    enrollment = first.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    assert first.verify("user-1", enrollment.stored, code, at=T0).approved
    second = build.totp(audit=None)
    assert second.verify("user-1", enrollment.stored, code, at=T0).reason is Reason.REPLAYED


def test_the_same_code_sent_twice_at_once_approves_exactly_once(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    barrier = threading.Barrier(2)
    reasons: list[Reason] = []

    def submit() -> None:
        barrier.wait()
        reasons.append(totp.verify("user-1", enrollment.stored, code, at=T0).reason)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(reasons) == sorted([Reason.APPROVED, Reason.REPLAYED])


def test_after_enrolling_again_the_new_apps_code_for_a_just_used_step_approves(build: Build) -> None:
    totp = build.totp()
    old = totp.enroll("user-1", "ana")
    assert totp.verify("user-1", old.stored, app(old).at(T0), at=T0).approved
    new = totp.enroll("user-1", "ana")
    verdict = totp.verify("user-1", new.stored, app(new).at(T0), at=T0 + 1)
    assert verdict.approved and verdict.reason is Reason.APPROVED


def test_after_enrolling_again_the_new_apps_used_code_is_still_refused_as_replayed(build: Build) -> None:
    totp = build.totp()
    old = totp.enroll("user-1", "ana")
    assert totp.verify("user-1", old.stored, app(old).at(T0), at=T0).approved
    new = totp.enroll("user-1", "ana")
    code = app(new).at(T0)
    assert totp.verify("user-1", new.stored, code, at=T0).approved
    again = totp.verify("user-1", new.stored, code, at=T0 + 1)
    assert not again.approved and again.reason is Reason.REPLAYED


def test_a_used_code_stays_refused_after_a_sealing_key_is_rotated_in(build: Build) -> None:
    tag_key, k1 = b"\x01" * 32, b"\x02" * 32
    before = Keyring({"k1": k1}, tag_key=tag_key)
    after = Keyring({"k1": k1, "k2": b"\x03" * 32}, current="k2", tag_key=tag_key)

    def verifier(keyring: Keyring) -> TOTPVerifier:
        return build.flavour.build(
            TOTPVerifier, aio.TOTPVerifier, store=build.store, keyring=keyring, settings=None, audit=None
        )

    enrollment = verifier(before).enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    assert verifier(before).verify("user-1", enrollment.stored, code, at=T0).approved
    again = verifier(after).verify("user-1", enrollment.stored, code, at=T0 + 1)
    assert not again.approved and again.reason is Reason.REPLAYED


def test_a_used_code_does_not_block_the_same_step_for_another_subject(build: Build) -> None:
    totp = build.totp()
    ana, budi = totp.enroll("user-1", "ana"), totp.enroll("user-2", "budi")
    assert totp.verify("user-1", ana.stored, app(ana).at(T0), at=T0).approved
    assert totp.verify("user-2", budi.stored, app(budi).at(T0), at=T0).approved


def test_a_secret_sealed_for_another_subject_does_not_open(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    with pytest.raises(TemplateError):
        totp.verify("user-2", enrollment.stored, app(enrollment).at(T0), at=T0)


def test_a_tampered_secret_does_not_open(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    tampered = bytearray(enrollment.stored)
    tampered[-1] ^= 1
    with pytest.raises(TemplateError):
        totp.verify("user-1", bytes(tampered), app(enrollment).at(T0), at=T0)


@pytest.mark.parametrize("code", ["12345", "1234567", "12a456", "", 123456])
def test_malformed_code_is_invalid_input_and_spends_nothing(build: Build, code: object) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    with pytest.raises(InvalidInput):
        totp.verify("user-1", enrollment.stored, code, at=T0)  # type: ignore[arg-type]
    wrong = f"{(int(app(enrollment).at(T0)) + 1) % 1_000_000:06d}"
    assert totp.verify("user-1", enrollment.stored, wrong, at=T0).budget_left == (
        TOTPSettings().lockout.threshold - 1
    )


def capped_at_three(build: Build) -> tuple[TOTPVerifier, TOTPEnrollment, str, str]:
    """A verifier that hard-locks after 3 failures, an enrolment, its right code and a wrong one."""
    totp = build.totp(lockout=LockoutPolicy(threshold=3, lockout=60, lockout_max=60, hard_cap=3))
    enrollment = totp.enroll("user-1", "ana")
    right = app(enrollment).at(T0)
    return totp, enrollment, right, f"{(int(right) + 1) % 1_000_000:06d}"


def test_consecutive_failures_lock_the_subject_out_even_for_the_right_code(build: Build) -> None:
    totp, enrollment, right, wrong = capped_at_three(build)
    for _ in range(3):
        assert totp.verify("user-1", enrollment.stored, wrong, at=T0).reason is Reason.WRONG_CODE
    locked = totp.verify("user-1", enrollment.stored, right, at=T0)
    assert locked.reason is Reason.HARD_LOCKED
    assert locked.details == {}
    assert locked.ways_in


def test_success_resets_the_failure_count(build: Build) -> None:
    totp, enrollment, right, wrong = capped_at_three(build)
    for _ in range(2):
        totp.verify("user-1", enrollment.stored, wrong, at=T0)
    assert totp.verify("user-1", enrollment.stored, right, at=T0).approved
    assert totp.verify("user-1", enrollment.stored, wrong, at=T0).budget_left == 2


def test_audit_events_name_the_outcome_and_hold_no_secret_or_code(
    build: Build, events: list[AuditEvent]
) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    code = app(enrollment).at(T0)
    totp.verify("user-1", enrollment.stored, code, at=T0)
    totp.verify("user-1", enrollment.stored, code, at=T0)
    assert [(e.action, e.outcome, e.reason) for e in events] == [
        ("enroll", "enrolled", "approved"),
        ("verify", "approved", "approved"),
        ("verify", "denied", "replayed"),
    ]
    for event in events:
        text = event.to_json()
        assert code not in text and enrollment.secret_base32 not in text
        assert event.verifier == "authenticator_app" and event.subject == "user-1"


def test_time_defaults_to_the_store_clock(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    assert totp.verify("user-1", enrollment.stored, app(enrollment).at(build.now())).approved


def test_an_approval_has_no_attempts_left_to_count(build: Build) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    verdict = totp.verify("user-1", enrollment.stored, app(enrollment).at(T0), at=T0)
    assert verdict.approved and verdict.budget_left is None and verdict.stored is None
    assert verdict.attempts_left is None


def test_a_client_beyond_its_limit_is_rate_limited_before_any_comparison(build: Build) -> None:
    totp = build.totp(client_limit=WindowPolicy(limit=2, window=600))
    enrollment = totp.enroll("user-1", "ana")
    right = app(enrollment).at(T0)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    for _ in range(2):
        totp.verify("user-1", enrollment.stored, wrong, client="198.51.100.7", at=T0)
    limited = totp.verify("user-1", enrollment.stored, right, client="198.51.100.7", at=T0)
    assert limited.reason is Reason.RATE_LIMITED and limited.retry_after
    assert totp.verify("user-1", enrollment.stored, right, client="198.51.100.8", at=T0).approved


def test_an_approval_gives_the_clients_charge_back(build: Build) -> None:
    totp = build.totp(client_limit=WindowPolicy(limit=1, window=600))
    ana, budi = totp.enroll("user-1", "ana"), totp.enroll("user-2", "budi")
    assert totp.verify("user-1", ana.stored, app(ana).at(T0), client="198.51.100.7", at=T0).approved
    assert totp.verify("user-2", budi.stored, app(budi).at(T0), client="198.51.100.7", at=T0).approved


@pytest.mark.parametrize("client", ["", "x" * 257, 42])
def test_a_malformed_client_is_invalid_input(build: Build, client: object) -> None:
    totp = build.totp()
    enrollment = totp.enroll("user-1", "ana")
    with pytest.raises(InvalidInput):
        totp.verify("user-1", enrollment.stored, app(enrollment).at(T0), client=client, at=T0)  # type: ignore[arg-type]


def test_one_code_sent_by_50_tasks_in_one_loop_is_accepted_exactly_once(
    store_url: str, make_async_store: Callable[..., AsyncChallengeStore], keyring: Keyring
) -> None:
    # 50 connections open at once, each running the check script: on a loaded machine that can take
    # longer than the default 1 s socket timeout, which would fail closed and prove nothing here.
    patient = {} if store_url.startswith("memory:") else {"socket_timeout": 60.0}

    async def fifty_at_once() -> list[Verdict]:
        async with make_async_store(store_url, **patient) as store:
            totp = aio.TOTPVerifier(store=store, keyring=keyring, audit=None)
            enrollment = await totp.enroll("user-1", "ana")
            code = app(enrollment).at(T0)
            return list(
                await asyncio.gather(
                    *(totp.verify("user-1", enrollment.stored, code, at=T0) for _ in range(50))
                )
            )

    verdicts = asyncio.run(fifty_at_once())
    assert [v.approved for v in verdicts].count(True) == 1
    assert {v.reason for v in verdicts if not v.approved} <= {Reason.REPLAYED, Reason.LOCKED_OUT}


@pytest.mark.parametrize("verifier", [TOTPVerifier, aio.TOTPVerifier])
def test_store_and_keyring_are_required(verifier: type[TOTPVerifier]) -> None:
    with pytest.raises(TypeError):
        verifier(keyring=Keyring.generate())  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        verifier(store=MemoryStore())  # type: ignore[call-arg]


def test_the_strict_preset_accepts_only_the_current_step() -> None:
    assert TOTPSettings.preset("strict").valid_window == 0
    assert TOTPSettings.preset("standard") == TOTPSettings()
    with pytest.raises(ConfigurationError):
        TOTPSettings.preset("lenient")
