"""`make demo` (``verifykit demo``) walks through every verifier via a real sidecar process."""

from __future__ import annotations

import pytest

from verifykit.cli._demo import run_sidecar_tour


def test_the_tour_runs_each_step_through_the_sidecar_and_stops_it_cleanly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_sidecar_tour() == 0
    out = capsys.readouterr().out
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
    assert "exit status 0" in out
