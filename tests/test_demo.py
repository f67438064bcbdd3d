"""The in-process OTP tour behind ``make demo`` walks through every step it promises."""

from __future__ import annotations

import pytest

from verifykit.cli._demo import run_otp_tour


def test_the_otp_tour_shows_start_message_wrong_right_and_replayed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_otp_tour("memory://") == 0
    out = capsys.readouterr().out
    assert "Subject:" in out
    assert "reason=wrong_code attempts_left=4" in out
    assert "approved=True reason=approved" in out
    assert "reason=replayed" in out
    assert "Challenge status: approved" in out
