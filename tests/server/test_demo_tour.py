"""`make demo` (``verifykit demo``) walks through every verifier via a real sidecar process."""

from __future__ import annotations

import contextlib
import io

import pytest

from verifykit.cli._demo import run_sidecar_tour


@pytest.fixture(scope="module")
def tour() -> str:
    """The tour's output, run once for this module (it starts two sidecar processes)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = run_sidecar_tour()
    assert status == 0, out.getvalue()
    return out.getvalue()


def test_the_tour_runs_each_step_through_the_sidecar_and_stops_it_cleanly(tour: str) -> None:
    out = tour
    assert "health SERVING" in out
    assert "reason=wrong_code attempts_left=4" in out
    assert "approved=True reason=approved\n" in out  # nothing to count down after an approval
    assert "reason=replayed" in out
    assert "ResendEmailOtp -> ChallengeClosed" in out
    assert "CheckPasswordPolicy 'password123' -> ok=False rule=breached" in out
    assert "HashPassword -> $argon2id$" in out
    assert "VerifyPassword (typo) -> approved=False reason=wrong_password" in out
    assert "VerifyPassword -> approved=True reason=approved" in out
    assert "EnrollFace eileen_collins.jpg -> ok=True" in out
    assert "VerifyFace selfie -> approved=True" in out
    assert "VerifyFace grace_hopper.jpg -> approved=False reason=mismatch" in out
    assert "SearchFaceIndex selfie -> applicant-0042" in out
    assert "exit status 0 and 0" in out


def test_the_tour_climbs_the_ladder_clears_a_hard_lock_and_verifies_its_audit_log(tour: str) -> None:
    out = tour
    assert "StartEmailOtp -> delivery failed" in out
    assert "GetWaysIn -> open: authenticator_app, counter_voucher\n" in out
    assert "email_code (delivery_failed)" in out
    assert "ConfirmTotpEnrollment -> approved=True" in out
    assert "VerifyTotp" in out and "-> approved=True reason=approved" in out
    assert "attempts_left=0 hard_locked" in out
    assert "GetWaysIn -> open: counter_voucher\n        closed: authenticator_app (hard_locked)" in out
    assert "InspectVoucher -> acceptable=True, signed by Officer Siti valid" in out
    assert "RedeemVoucher -> approved=True unlocked=totp" in out
    assert "RedeemVoucher again -> approved=False refusal=replayed" in out
    assert out.count("GetWaysIn -> open: authenticator_app, counter_voucher") == 2
    assert "audit verify audit.log --key audit.pub -> exit 0" in out
    assert "intact:" in out and "2 writer(s)" in out
