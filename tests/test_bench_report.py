"""What a ``verifykit bench`` table tells its reader, and when a bench command fails.

Every table says that values and baselines are costs (lower is better) and how to read a ratio;
a case with a goal says whether it was met. The soak fails its command when it misses a goal it
measured; the exit decision is tested on made-up figures, with no traffic.
"""

from __future__ import annotations

import argparse
import json
import sys
import types

import pytest

from verifykit.bench import BenchReport
from verifykit.bench._report import Goal
from verifykit.bench._soak import Sample, SoakResult
from verifykit.cli._bench import _run

MiB = 1024 * 1024


def table_of(*cases: tuple[str, float, float | None]) -> str:
    report = BenchReport("example")
    for name, value, baseline in cases:
        report.add(name, "ms", value, baseline)
    return report.table()


def row(table: str, name: str) -> str:
    (found,) = [line for line in table.splitlines() if line.startswith(name)]
    return found


def test_every_table_says_lower_is_better_and_what_a_ratio_means() -> None:
    lines = table_of(("check p50", 2.0, 1.0)).splitlines()
    assert lines[0] == "== bench example =="
    assert lines[1] == "value, baseline: costs, lower is better"
    assert lines[2] == "ratio = value / baseline: below 1.00, cheaper than the baseline; above 1.00, costlier"
    assert lines[3].split() == ["case", "value", "baseline", "ratio"]


def test_a_ratio_is_the_value_over_the_baseline() -> None:
    table = table_of(("cheaper", 1.0, 4.0), ("costlier", 3.0, 2.0))
    assert row(table, "cheaper").split()[-1] == "0.25x"
    assert row(table, "costlier").split()[-1] == "1.50x"


def test_a_case_with_a_goal_says_met_or_not_met() -> None:
    report = BenchReport("example")
    report.add("within", "ms", 1.02, 1.0, Goal(at_most=1.03))
    report.add("beyond", "ms", 1.2, 1.0, Goal(at_most=1.03))
    report.add("no goal", "ms", 5.0, 1.0)
    table = report.table()
    assert table.splitlines()[3].split() == ["case", "value", "baseline", "ratio", "goal"]
    assert row(table, "within").endswith("1.02x  met (ratio <= 1.03)")
    assert row(table, "beyond").endswith("1.20x  NOT MET (ratio <= 1.03)")
    assert row(table, "no goal").endswith("5.00x")


def test_a_goal_stated_in_a_case_name_is_judged() -> None:
    table = table_of(
        ("verify p50 vs raw (goal <= 1.03)", 1.5, 1.0),
        ("unknown vs known (goal 0.95-1.05)", 0.97, 1.0),
        ("unknown vs other (goal 0.95-1.05)", 0.9, 1.0),
    )
    assert row(table, "verify p50 vs raw").endswith("NOT MET (ratio <= 1.03)")
    assert row(table, "unknown vs known").endswith("met (ratio 0.95-1.05)")
    assert row(table, "unknown vs other").endswith("NOT MET (ratio 0.95-1.05)")


def test_a_goal_without_a_baseline_cannot_be_judged() -> None:
    report = BenchReport("example")
    case = report.add("lonely (goal <= 1.10)", "ms", 3.0)
    assert case.met is None
    assert row(report.table(), "lonely").endswith("no ratio (ratio <= 1.10)")


def test_the_json_names_each_goal_and_whether_it_was_met() -> None:
    report = BenchReport("example")
    report.add("beyond (goal <= 1.03)", "ms", 2.0, 1.0)
    report.add("plain", "ms", 2.0, 1.0)
    cases = json.loads(report.to_json())["cases"]
    assert [(c["goal"], c["met"]) for c in cases] == [("ratio <= 1.03", False), (None, None)]


def test_a_goal_needs_a_bound_and_bounds_in_order() -> None:
    with pytest.raises(ValueError, match="at least one bound"):
        Goal()
    with pytest.raises(ValueError, match="above its upper bound"):
        Goal(at_most=0.9, at_least=1.1)


# -- the soak's exit decision -------------------------------------------------------------------------


def steady_run(**changes: float) -> SoakResult:
    """A 100 s run (10 s warm-up) that meets every goal, unless ``changes`` say otherwise:
    ``rss_end`` and ``fds_end`` set the last samples, ``otp_p99`` the slowest 5 % of OTP checks (ms)."""
    result = SoakResult(seconds=100, warmup=10, clients=4, conditions={})
    for t in range(101):
        end = t >= 95
        rss = changes.get("rss_end", 100.0) if end else 100.0
        fds = changes.get("fds_end", 40.0) if end else 40.0
        result.samples.append(Sample(float(t), int(rss * MiB), int(fds)))
    for n in range(100):
        ms = changes.get("otp_p99", 10.0) if n >= 95 else 10.0
        result.record("otp.check", 20.0, 20.0 + ms / 1000, "verdict approved")
    return result


def test_a_soak_that_meets_every_goal_misses_none() -> None:
    assert steady_run().missed_goals() == []


@pytest.mark.parametrize(
    ("changes", "missed"),
    [
        ({"rss_end": 110.0}, "RSS grows < 5 % after warm-up (measured +10.00 %)"),
        ({"fds_end": 80.0}, "open descriptors flat (gain <= 16) (measured +40)"),
        ({"otp_p99": 1000.0}, "otp.check p99 <= 3 x p50"),
    ],
)
def test_a_soak_misses_the_goal_its_figures_break(changes: dict[str, float], missed: str) -> None:
    (found,) = steady_run(**changes).missed_goals()
    assert found.startswith(missed)


def test_an_unintended_status_is_a_missed_goal() -> None:
    result = steady_run()
    result.record("otp.check", 30.0, 30.01, "INTERNAL")
    assert result.missed_goals() == ["only intended statuses and right verdicts (measured 1 unintended)"]


def test_a_goal_the_run_could_not_measure_is_no_miss() -> None:
    result = SoakResult(seconds=3, warmup=10, clients=1, conditions={})
    assert [met for _, met, _ in result.goals()] == [None, None, True]
    assert result.missed_goals() == []


def exit_status_for(
    report: BenchReport, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> int:
    module = types.ModuleType("made_up_bench")
    module.run = lambda args, progress: report  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "made_up_bench", module)
    status = _run(argparse.Namespace(json=False, _bench_module="made_up_bench"))
    capsys.readouterr()
    return status


def test_the_bench_command_fails_when_a_goal_that_fails_it_is_missed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = BenchReport("soak")
    report.missed = steady_run(rss_end=110.0).missed_goals()
    assert exit_status_for(report, monkeypatch, capsys) == 1
    assert "goal not met: RSS grows < 5 % after warm-up" in report.table()


def test_a_case_goal_missed_is_reported_but_fails_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    report = BenchReport("hash")
    report.add("verify p50 vs raw (goal <= 1.03)", "ms", 2.0, 1.0)
    assert exit_status_for(report, monkeypatch, capsys) == 0
