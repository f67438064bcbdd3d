"""``verifykit demo``: a tour a newcomer can follow, that runs what it can and cleans up after itself.

The sidecar tour runs as a person runs it, ``python -m verifykit demo`` in a subprocess, which starts
two ``verifykit serve`` children of its own.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from verifykit.cli._demo import run_otp_tour

ANA = "Ana Putri (account applicant-0042)"
BUDI = "Budi Santoso (account applicant-0077)"
# The names a developer reads in the proto files; the narrative speaks of what happens instead.
RPC_NAMES = ("StartEmailOtp", "CheckEmailOtp", "VerifyPassword", "EnrollFace", "VerifyFace", "GetWaysIn",
             "VerifyTotp", "RedeemVoucher", "InspectVoucher", "approved=", "reason=")  # fmt: skip
FACE_MODULES = ("cv2", "dlib", "face_recognition_models")


def demo_env(tmp_path: Path, *, without: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of a demo whose temporary folders go under ``tmp_path``; the modules in
    ``without`` cannot be imported in it nor in the sidecars it starts, as if not installed."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VERIFYKIT_")}
    env["TMPDIR"] = str(tmp_path)
    if without:
        site = tmp_path / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(
            "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in without)
        )
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), env.get("PYTHONPATH")) if p)
    return env


def run_demo(tmp_path: Path, *, without: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "verifykit", "demo"],
        env=demo_env(tmp_path, without=without),
        capture_output=True,
        text=True,
        timeout=300,
    )


def narrative(out: str) -> str:
    """The tour's own words: the sidecar's JSON log lines it quotes left out."""
    return "\n".join(line for line in out.splitlines() if not line.lstrip().startswith("{"))


@pytest.fixture(scope="module")
def tour(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole tour's output, run once for this module."""
    done = run_demo(tmp_path_factory.mktemp("tour"))
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# -- the in-process tour ---------------------------------------------------------------------------


def test_the_otp_tour_shows_start_message_wrong_right_and_replayed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run_otp_tour("memory://") == 0
    out = capsys.readouterr().out
    assert f"[1] {ANA} asks for a code" in out
    assert "Subject:" in out
    assert "refused: that is not the right code; 4 tries left" in out
    assert "with a space as it is often written" in out and "\n    approved\n" in out
    assert "refused: that was already used once" in out
    assert "The challenge is now approved" in out


# -- the sidecar tour ------------------------------------------------------------------------------


def test_each_section_says_whose_made_up_account_it_uses(tour: str) -> None:
    headings = re.findall(r"^\[(\d)\] (.*)$", tour, flags=re.MULTILINE)
    owners = {step: (ANA if ANA in text else BUDI if BUDI in text else None) for step, text in headings}
    assert owners["1"] == owners["2"] == owners["3"] == ANA
    assert owners["4"] == BUDI
    assert "applicant-0077" in dict(headings)["6"] and "applicant-0077" in dict(headings)["7"]


def test_the_tour_speaks_of_what_happens_not_of_rpc_names(tour: str) -> None:
    words = narrative(tour)
    assert [name for name in RPC_NAMES if name in words] == []
    assert "EmailOtpService/StartEmailOtp" in tour  # the quoted log lines do name the method


def test_a_refusal_says_why_and_what_can_happen_next(tour: str) -> None:
    assert "She mistypes it as" in tour and ": refused: that is not the right code; 4 tries left" in tour
    assert "At login she mistypes it: refused: the password does not match; 9 tries left" in tour
    assert re.search(
        r"999999: refused: that is not the right code; the account is now locked until an officer clears it; "
        r"the service can offer instead a visit to a counter",
        tour,
    )


def test_face_distances_come_with_their_threshold(tour: str) -> None:
    selfie = re.search(
        r"Her selfie: approved; the faces are (\d\.\d{3}) apart, under the 0\.60 threshold", tour
    )
    other = re.search(
        r"Someone else's photo \(grace_hopper\.jpg\) for her account: refused: the two faces are not of the "
        r"same person; the faces are (\d\.\d{3}) apart, over the 0\.60 threshold",
        tour,
    )
    assert selfie and other, tour
    assert float(selfie.group(1)) <= 0.6 < float(other.group(1))
    assert "for her selfie (threshold 0.60) finds: applicant-0042 at" in tour


def test_the_ladder_names_the_ways_in_and_why_the_others_are_closed(tour: str) -> None:
    assert "The service asks for an email code: delivery failed" in tour
    assert "open: the authenticator app; an officer's voucher from a counter\n" in tour
    assert "an email code (the last email could not be delivered)" in tour
    assert (
        "open: an officer's voucher from a counter\n"
        "        closed: a passkey (not set up); the authenticator app (locked until"
    ) in tour


def test_a_failed_email_offers_a_new_code_the_ways_the_person_has_and_the_counter(tour: str) -> None:
    assert (
        "The challenge offers instead a new code by email or the authenticator app or a visit to a counter"
        in tour
    )


def test_an_officers_voucher_clears_the_lock_once(tour: str) -> None:
    assert "acceptable, signed by Officer Siti (valid)" in tour
    assert "Budi hands it in: approved; unlocked: the authenticator app" in tour
    assert "The same voucher again: refused: that was already used once" in tour


def test_the_sidecars_stop_cleanly_and_their_audit_log_is_intact(tour: str) -> None:
    assert "exit status 0 and 0" in tour
    assert "-> exit 0 (intact)" in tour and "2 writer(s)" in tour
    assert tour.rstrip().endswith("Every section that ran passed.")


def test_without_the_face_extra_the_tour_runs_the_rest_and_names_the_extra(tmp_path: Path) -> None:
    done = run_demo(tmp_path, without=FACE_MODULES)
    assert done.returncode == 0, done.stdout + done.stderr
    hint = "pip install 'verifykit[face]'"
    before, _, after = done.stdout.partition("[1]")
    assert f"Skipping the face section: OpenCV is not installed; install the face extra: {hint}" in before
    assert f"[3] Face: skipped (OpenCV is not installed; install the face extra: {hint})" in after
    assert "Her selfie" not in after
    assert "Budi hands it in: approved" in after and "-> exit 0 (intact)" in after
    assert after.rstrip().endswith(
        f"Skipped the face section: OpenCV is not installed; install the face extra: {hint}"
    )


# -- stopping ------------------------------------------------------------------------------------


def poll(condition: Callable[[], object], what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.05)


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains ``text`` (the sidecars name the demo's folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rpartition(")")[2].split()[0]
        except OSError:
            continue  # ended while we looked
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads processes from /proc")
@pytest.mark.parametrize("moment", ["while-the-sidecar-starts", "once-the-sidecar-answers"])
def test_sigterm_stops_the_sidecar_and_removes_the_folder_with_the_keys(tmp_path: Path, moment: str) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "verifykit", "demo"],
        env=demo_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        poll(lambda: any(tmp_path.glob("verifykit-demo-*")), "the demo's folder")
        (folder,) = tmp_path.glob("verifykit-demo-*")
        poll(lambda: (folder / "officer.key").exists(), "the officer's key in it")
        if moment == "once-the-sidecar-answers":
            poll(lambda: processes_naming(str(folder)), "a sidecar")
            log = folder / "sidecar.log"
            poll(lambda: log.exists() and "listening on" in log.read_text(errors="replace"), "it to listen")
        demo.send_signal(signal.SIGTERM)
        _, stderr = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    try:
        assert demo.returncode == 128 + signal.SIGTERM, stderr
        assert "Traceback" not in stderr
        poll(lambda: not folder.exists(), "the folder to be removed", deadline=10)
        poll(lambda: not processes_naming(str(folder)), "the sidecar to end", deadline=30)
    finally:
        for pid in processes_naming(str(folder)):  # what a failure left behind
            os.kill(pid, signal.SIGKILL)
