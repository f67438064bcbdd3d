"""The short soak: mixed traffic from 16 clients through a real sidecar on Redis, with a real SMTP
server on loopback, 15 rounds each (``make soak`` runs the long form: 64 clients, 10 minutes).

The short form is bounded by counts, not seconds, so a busy machine does the same work, only
slower: each client runs every scenario once a round, and so on.

It checks what holds in any run, however short: every answer is a verdict or an intended refusal,
right answers approve and wrong ones do not, the sidecar's own metrics count the refusals the
clients saw, descriptors stay flat, and the report and plot are produced. RSS growth and the OTP
latency spread are goals of the long run, reported there, not asserted here.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from verifykit.bench._soak import BUSY, LIMITED, SoakResult, bucket_quantile, growth, replace_section, soak
from verifykit.cli import build_parser

pytestmark = [pytest.mark.slow, pytest.mark.bench]

CLIENTS = 16
# A round floods one of 4 mailboxes with a start one time in five, and a mailbox takes 5 starts
# before its limit answers: 15 rounds make 60 draws a mailbox (4 clients share one), so a run where
# no mailbox reaches its limit is as likely as about 1 in 5 x 10^7 (it does not depend on the
# machine's speed; 20 rounds would make it 1 in 10^13, for a third more time).
ROUNDS = 15


@pytest.fixture(scope="module")
def soaked(redis_url: str) -> SoakResult:
    args = build_parser().parse_args(
        ["bench", "soak", "--rounds", str(ROUNDS), "--warmup", "5", "--clients", str(CLIENTS),
         "--store", redis_url, "--interval", "0.5", "--seed", "11"]
    )  # fmt: skip
    return soak(args)


def count(result: SoakResult, call: str, outcome: str) -> int:
    return result.outcomes[(call, outcome)]


def test_every_answer_is_a_verdict_or_an_intended_refusal(soaked: SoakResult) -> None:
    assert soaked.unintended() == {}
    assert dict(soaked.findings) == {}


def test_every_kind_of_traffic_ran(soaked: SoakResult) -> None:
    assert count(soaked, "otp.start", "ok") > 0
    assert count(soaked, "otp.check", "verdict approved") > 0
    assert count(soaked, "otp.check", "verdict wrong_code") > 0
    assert count(soaked, "otp.check (hostile)", "NOT_FOUND") > 0
    assert count(soaked, "otp.check (hostile)", "INVALID_ARGUMENT") > 0
    assert count(soaked, "otp.start (flood)", LIMITED) > 0
    password = {o: n for (call, o), n in soaked.outcomes.items() if call == "password.verify"}
    assert set(password) & {"verdict approved", BUSY}
    assert soaked.calls["password.verify (hostile)"].ms


def test_face_traffic_runs_or_says_why_not(soaked: SoakResult) -> None:
    if any(note.startswith("face traffic skipped") for note in soaked.notes):
        assert "face.verify" not in soaked.calls
    else:
        assert soaked.calls["face.verify"].ms
        assert soaked.calls["face.verify (hostile)"].ms


def test_the_sidecar_counts_the_refusals_the_clients_saw(soaked: SoakResult) -> None:
    busy_seen = sum(n for (_, outcome), n in soaked.outcomes.items() if outcome == BUSY)
    # A lockout or limit given as a verdict counts as a refusal too.
    refused = {LIMITED, "verdict locked_out", "verdict hard_locked", "verdict rate_limited"}
    limited_seen = sum(n for (_, outcome), n in soaked.outcomes.items() if outcome in refused)
    busy_counted = sum(n for key, n in soaked.refusals.items() if key.endswith(" busy"))
    limited_counted = sum(n for key, n in soaked.refusals.items() if not key.endswith(" busy"))
    assert (busy_counted, limited_counted) == (busy_seen, limited_seen)


def test_open_descriptors_stay_flat(soaked: SoakResult) -> None:
    gain = soaked.fd_gain()
    assert gain is not None, "no samples of the sidecar's descriptors"
    assert gain <= soaked.fd_slack


def test_the_report_has_every_table(soaked: SoakResult) -> None:
    report = soaked.markdown()
    for heading in ("| goal | measured | met |", "| call | calls | refused |", "| call | outcome | count |",
                    "| sidecar resource |"):  # fmt: skip
        assert heading in report
    assert "| otp.check |" in report


def test_the_plot_is_a_png(soaked: SoakResult, tmp_path: Path) -> None:
    soaked.plot(tmp_path / "soak.png")
    assert (tmp_path / "soak.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_growth_compares_the_windows_after_warm_up() -> None:
    # Warm-up (t < 10) is left out; the windows are 5 s at each end of the 100 s that follow.
    points = [(float(t), 50.0 if t < 10 else 100.0 + (10.0 if t >= 105 else 0.0)) for t in range(111)]
    assert growth(points, warmup=10, end=110) == pytest.approx(10.0)


def test_growth_is_unknown_without_samples_after_warm_up() -> None:
    assert growth([(1.0, 100.0), (2.0, 100.0)], warmup=10, end=110) is None


def test_the_report_replaces_only_its_own_section() -> None:
    document = "# Title\n\n## Soak and load\n\n<!-- soak:begin -->\nold\n<!-- soak:end -->\n\n## Next\n"
    assert replace_section(document, "new table\n") == (
        "# Title\n\n## Soak and load\n\n<!-- soak:begin -->\nnew table\n<!-- soak:end -->\n\n## Next\n"
    )


def test_a_histogram_quantile_is_the_bound_of_its_bucket() -> None:
    buckets = [(0.001, 10.0), (0.01, 90.0), (0.1, 99.0), (float("inf"), 100.0)]
    assert (bucket_quantile(buckets, 0.5), bucket_quantile(buckets, 0.99)) == (0.01, 0.1)


def run_without(module: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``python -m verifykit ARGV`` in a fresh interpreter where ``module`` cannot be imported."""
    program = (
        "import runpy, sys\n"
        f"sys.modules[{module!r}] = None\n"
        f"sys.argv = ['verifykit', *{list(argv)!r}]\n"
        "runpy.run_module('verifykit', run_name='__main__')\n"
    )
    return subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=300)


def test_without_the_face_extra_the_soak_says_so_in_one_line_and_runs_the_rest(redis_url: str) -> None:
    result = run_without(
        "cv2", "bench", "soak", "--rounds", "1", "--warmup", "0", "--clients", "2", "--store", redis_url
    )
    # Three seconds are too few for the latency spread goal to mean much: a miss exits 1 and says so.
    assert result.returncode == 0 or (result.returncode == 1 and "goal not met: " in result.stdout), (
        result.stderr[-2000:]
    )
    assert "face traffic skipped: OpenCV is not installed; install the face extra" in result.stdout
    assert "face.verify" not in result.stdout
    assert "otp.check" in result.stdout


def test_without_its_extra_the_soak_names_it_in_one_line() -> None:
    result = run_without("aiosmtpd.controller", "bench", "soak", "--seconds", "1")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "pip install 'verifykit[soak]'" in result.stderr
