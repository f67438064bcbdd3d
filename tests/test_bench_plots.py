"""What ``verifykit bench NAME --plot FILE.png`` draws, checked on the figures, not the pixels.

The charts come from a finished report: calls per second against server processes (``bench grpc
--processes``), latency percentiles against concurrent clients (``bench grpc --client-counts``),
and milliseconds per stage against photo size (``bench face``). Here the reports are made up, so
no traffic runs; tests/server/test_sidecar_bench.py makes them with tiny real runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pytest

from verifykit.bench import BenchReport, Chart, Series, charts, draw_charts, plot_refusal
from verifykit.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def processes_report() -> BenchReport:
    report = BenchReport("grpc")
    report.extra["by_processes"] = {
        "processes": [1, 2],
        "calls_per_second": {"email-code check": [500.0, 900.0], "face verify": [10.0, 18.0]},
    }
    return report


def clients_report() -> BenchReport:
    report = BenchReport("grpc")
    report.extra["by_clients"] = {
        "clients": [1, 4, 16],
        "email-code check": {
            "p50_ms": [1.0, 2.0, 8.0],
            "p90_ms": [1.5, 3.0, 12.0],
            "p99_ms": [2.0, 5.0, 20.0],
            "calls_per_second": [900.0, 1500.0, 1800.0],
        },
    }
    return report


def face_report() -> BenchReport:
    report = BenchReport("face")
    for size, scale in (("vga", 1.0), ("1080p", 3.0), ("12mp", 10.0)):
        for stage, ms in (("decode", 2.0), ("detect", 20.0), ("encode", 15.0), ("match", 0.01)):
            report.add(f"{size} {stage}", "ms", ms * scale, 4 * ms * scale)
        report.add(f"{size} total (per photo)", "ms", 40.0 * scale, 160.0 * scale)
    report.add("index search 10,000 (k=5)", "ms", 1.0, 0.9)
    return report


def test_throughput_is_drawn_against_processes_with_the_speed_up_beside_linear() -> None:
    absolute, speedup = charts(processes_report())
    assert absolute.x == (1.0, 2.0) and absolute.ticks == ("1", "2")
    assert absolute.line("email-code check").values == (500.0, 900.0)
    assert absolute.line("face verify").values == (10.0, 18.0)
    assert speedup.line("email-code check").values == (1.0, 1.8)
    assert speedup.line("face verify").values == (1.0, 1.8)
    assert speedup.line("linear").values == (1.0, 2.0) and speedup.line("linear").dashed


def test_each_call_gets_its_latency_percentiles_against_clients() -> None:
    (chart,) = charts(clients_report())
    assert chart.title.startswith("Email-code check")
    assert chart.x == (1.0, 4.0, 16.0) and chart.log_x
    assert [line.label for line in chart.series] == ["p50", "p90", "p99"]
    assert chart.line("p99").values == (2.0, 5.0, 20.0)


def test_face_stages_are_drawn_against_megapixels_for_both_pipelines() -> None:
    (chart,) = charts(face_report())
    assert chart.x == (0.31, 2.07, 12.0)
    assert chart.ticks == ("VGA", "1080p", "12 MP")
    assert chart.line("verifykit detect").values == (20.0, 60.0, 200.0)
    assert chart.line("face_recognition detect").values == (80.0, 240.0, 800.0)
    assert chart.line("face_recognition detect").dashed
    assert {line.label.split()[1] for line in chart.series} == {"decode", "detect", "encode", "match"}


def test_a_report_without_those_figures_has_no_chart() -> None:
    report = BenchReport("hash")
    report.add("verify p50 vs raw (goal <= 1.03)", "ms", 1.0, 1.0)
    assert charts(report) == []


def test_a_chart_refuses_series_that_do_not_fit_its_x() -> None:
    with pytest.raises(ValueError, match="2 values for 3 x"):
        Chart("t", "x", "y", (1.0, 2.0, 3.0), (Series("short", (1.0, 2.0)),))


def test_the_json_of_a_chart_holds_every_figure_it_draws() -> None:
    (chart,) = charts(clients_report())
    doc = chart.to_dict()
    assert doc["x"] == [1.0, 4.0, 16.0] and doc["ticks"] == ["1", "4", "16"]
    assert doc["series"][0] == {"label": "p50", "values": [1.0, 2.0, 8.0], "dashed": False}


def test_drawing_writes_one_png_of_every_chart(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "capacity.png"
    draw_charts([*charts(processes_report()), *charts(clients_report())], path)
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_a_run_with_nothing_to_plot_is_refused_before_it_measures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    status = main(["bench", "hash", "--plot", str(tmp_path / "hash.png")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert "bench hash has no plot for this run" in err
    assert not (tmp_path / "hash.png").exists()


@pytest.mark.parametrize(
    ("bench", "options", "plots"),
    [
        ("grpc", {"processes": "1,2", "client_counts": None}, True),
        ("grpc", {"processes": None, "client_counts": "1,8"}, True),
        ("grpc", {"processes": None, "client_counts": None}, False),
        ("face", {"parts": "stages,accuracy"}, True),
        ("face", {"parts": "accuracy"}, False),
        ("otp", {}, False),
    ],
)
def test_which_runs_have_a_plot(bench: str, options: dict[str, str | None], plots: bool) -> None:
    assert (plot_refusal(bench, argparse.Namespace(**options)) is None) is plots


def test_without_matplotlib_asking_for_a_plot_names_the_extra(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # importing it fails, as if not installed
    status = main(["bench", "grpc", "--processes", "1,2", "--plot", str(tmp_path / "grpc.png")])
    out, err = capsys.readouterr()
    assert status == 2 and out == ""
    assert err.strip() == (
        "verifykit: bench: this needs the report extra (matplotlib is not installed): "
        "pip install 'verifykit[report]'"
    )
