"""``verifykit bench grpc`` runs that feed the capacity plots, made tiny: a handful of calls each.

What is checked is the shape and the consistency of the figures (the plotted series are the
measured ones, percentiles in order, every call measured at every process count), never how fast
anything was.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from verifykit.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    status = main(["bench", "grpc", *argv, "--json"])
    out, _err = capsys.readouterr()
    assert status == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_latency_against_clients_plots_the_percentiles_it_measured(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "latency.png"
    doc = bench_json(capsys, "--client-counts", "1,2", "-n", "8", "--password-n", "2", "--plot", str(plot))
    measured = doc["by_clients"]
    assert measured["clients"] == [1, 2]
    charts = {chart["title"].split(":")[0]: chart for chart in doc["plots"]}
    assert set(charts) == {"Email-code check", "Password verify"}
    for call, chart in (
        ("email-code check", charts["Email-code check"]),
        ("password verify", charts["Password verify"]),
    ):
        figures = measured[call]
        assert chart["x"] == [1.0, 2.0]
        assert [s["values"] for s in chart["series"]] == [
            figures["p50_ms"],
            figures["p90_ms"],
            figures["p99_ms"],
        ]
        for p50, p90, p99 in zip(figures["p50_ms"], figures["p90_ms"], figures["p99_ms"], strict=True):
            assert 0 < p50 <= p90 <= p99
    assert plot.read_bytes().startswith(PNG_SIGNATURE)


@pytest.mark.slow
def test_throughput_against_processes_measures_every_call_at_every_count(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, redis_url: str
) -> None:
    pytest.importorskip("cv2")
    pytest.importorskip("matplotlib")
    plot = tmp_path / "processes.png"
    doc = bench_json(
        capsys,
        *("--processes", "1,2", "--store", redis_url, "-n", "8", "--password-n", "2", "--clients", "2"),
        *("--face-n", "2", "--face-clients", "2", "--plot", str(plot)),
    )
    measured = doc["by_processes"]
    assert measured["processes"] == [1, 2]
    rates = measured["calls_per_second"]
    assert list(rates) == [
        "email-code start",
        "email-code check",
        "TOTP verify",
        "password verify",
        "face verify",
    ]
    assert all(len(values) == 2 and min(values) > 0 for values in rates.values())
    absolute, speedup = doc["plots"]
    assert {s["label"]: s["values"] for s in absolute["series"]} == rates
    assert {s["label"]: s["values"][0] for s in speedup["series"]} == dict.fromkeys([*rates, "linear"], 1.0)
    assert plot.read_bytes().startswith(PNG_SIGNATURE)
