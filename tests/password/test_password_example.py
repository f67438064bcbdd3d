"""examples/password_signup_login.py runs its signup and login flow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "password_signup_login.py"


def test_the_signup_and_login_example_runs_through() -> None:
    command = [sys.executable, str(EXAMPLE)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=120)
    assert "signup refused (breached)" in done.stdout
    assert "signup refused (context)" in done.stdout
    assert "welcome back, budi" in done.stdout
    assert "locked out" in done.stdout and "recovery_code" in done.stdout
    assert "kopi tubruk" not in done.stdout + done.stderr
