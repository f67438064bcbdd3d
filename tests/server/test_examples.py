"""examples/sidecar_tour.py runs its signup and login against a real sidecar process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sidecars import REPO, ServeProcess


def test_the_python_tour_signs_up_and_logs_in(serve_process: ServeProcess, tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    process = serve_process(
        "--mailer",
        f"file:{mail}",
        "--password-preset",
        "cheap_tests_only",
        "--no-audit-log",
        "--no-access-log",
    )
    run = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "sidecar_tour.py"),
            "--target",
            process.target,
            "--mail-dir",
            str(mail),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "email a***@example.co.id: approved"
    assert lines[1].startswith("'verifykit2024' is refused: context: ")  # the service name is a context word
    assert lines[2:] == [
        "face enrolment: approved",
        "login applicant-42: wrong_password",
        "login applicant-42: approved",
        "login nobody-here: wrong_password",
    ]
