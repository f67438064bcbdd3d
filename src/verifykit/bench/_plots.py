"""The plots ``verifykit bench NAME --plot FILE.png`` draws, and the figures behind them.

:func:`charts` reads a finished report and returns what it can show as plain data
(:class:`Chart`; ``--json`` prints them under ``"plots"``), so that tests check the figures, not
the pixels. :func:`draw_charts` hands them to matplotlib, the one optional dependency here (the
``report`` extra), imported only when drawing.

- ``bench grpc --processes 1,2``: calls per second against server processes, and the speed-up
  over the first count beside linear scaling.
- ``bench grpc --client-counts 1,4,16,32``: p50, p90 and p99 latency against concurrent clients,
  one chart per call.
- ``bench face`` (its ``stages`` part): milliseconds per stage against photo size, verifykit
  beside plain face_recognition.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._report import BenchReport

__all__ = ["Chart", "Series", "charts", "draw_charts", "plot_refusal"]

# The face bench's photo sizes, in its order, and how a chart names them.
_SIZES = {"vga": (640 * 480, "VGA"), "1080p": (1920 * 1080, "1080p"), "12mp": (12_000_000, "12 MP")}
_STAGE_CASE = re.compile(r"^(?P<size>vga|1080p|12mp) (?P<stage>decode|detect|encode|match)$")
_PERCENTILES = ("p50", "p90", "p99")


@dataclass(frozen=True, slots=True)
class Series:
    """One line of a chart: a value (None: not measured) at each of the chart's x positions.
    Lines with the same ``kin`` share a colour (a stage in both pipelines)."""

    label: str
    values: tuple[float | None, ...]
    dashed: bool = False
    kin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "values": list(self.values), "dashed": self.dashed}


@dataclass(frozen=True, slots=True)
class Chart:
    """One panel of a plot; ``ticks`` names the x positions where numbers alone would not."""

    title: str
    x_label: str
    y_label: str
    x: tuple[float, ...]
    series: tuple[Series, ...]
    ticks: tuple[str, ...] | None = None
    log_x: bool = False
    log_y: bool = False

    def __post_init__(self) -> None:
        for line in self.series:
            if len(line.values) != len(self.x):
                raise ValueError(f"series {line.label!r} has {len(line.values)} values for {len(self.x)} x")
        if self.ticks is not None and len(self.ticks) != len(self.x):
            raise ValueError(f"{len(self.ticks)} tick labels for {len(self.x)} x")

    def line(self, label: str) -> Series:
        """The series called ``label``."""
        for line in self.series:
            if line.label == label:
                return line
        raise KeyError(label)

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title,
            "x_label": self.x_label,
            "y_label": self.y_label,
            "x": list(self.x),
            "ticks": None if self.ticks is None else list(self.ticks),
            "log_x": self.log_x,
            "log_y": self.log_y,
            "series": [line.to_dict() for line in self.series],
        }


def charts(report: BenchReport) -> list[Chart]:
    """Every chart the report's figures make; empty when the run measured nothing to plot."""
    found: list[Chart] = []
    if "by_processes" in report.extra:
        found += _by_processes(report.extra["by_processes"])
    if "by_clients" in report.extra:
        found += _by_clients(report.extra["by_clients"])
    stages = _stages(report)
    if stages is not None:
        found.append(stages)
    return found


def plot_refusal(bench: str, args: argparse.Namespace) -> str | None:
    """Why a run of ``bench`` with ``args`` would have nothing to plot; None when it has."""
    if bench == "grpc" and (getattr(args, "processes", None) or getattr(args, "client_counts", None)):
        return None
    if bench == "face" and "stages" in str(getattr(args, "parts", "stages")).split(","):
        return None
    return (
        f"bench {bench} has no plot for this run; plots come from bench grpc --processes N,M, "
        "bench grpc --client-counts A,B,… and bench face (its stages part)"
    )


def _by_processes(data: dict[str, Any]) -> list[Chart]:
    counts = tuple(float(n) for n in data["processes"])
    ticks = tuple(str(n) for n in data["processes"])
    rates: dict[str, list[float]] = data["calls_per_second"]
    absolute = Chart(
        title="Calls per second against server processes",
        x_label="server processes",
        y_label="calls per second (log)",
        x=counts,
        series=tuple(Series(call, tuple(values)) for call, values in rates.items()),
        ticks=ticks,
        log_y=True,
    )
    linear = Series("linear", tuple(n / counts[0] for n in counts), dashed=True)
    speedup = Chart(
        title=f"Speed-up over {ticks[0]} process{'' if ticks[0] == '1' else 'es'}",
        x_label="server processes",
        y_label="calls per second, relative",
        x=counts,
        series=(
            *(Series(call, tuple(_relative(v, values[0]) for v in values)) for call, values in rates.items()),
            linear,
        ),
        ticks=ticks,
    )
    return [absolute, speedup]


def _relative(value: float, base: float) -> float | None:
    return None if base <= 0 else round(value / base, 3)


def _by_clients(data: dict[str, Any]) -> list[Chart]:
    clients = tuple(float(n) for n in data["clients"])
    found = []
    for call, figures in data.items():
        if call == "clients":
            continue
        found.append(
            Chart(
                title=f"{call[0].upper()}{call[1:]}: latency against concurrent clients",
                x_label="concurrent clients (log)",
                y_label="milliseconds (log)",
                x=clients,
                series=tuple(Series(p, tuple(figures[f"{p}_ms"])) for p in _PERCENTILES),
                ticks=tuple(str(n) for n in data["clients"]),
                log_x=True,
                log_y=True,
            )
        )
    return found


def _stages(report: BenchReport) -> Chart | None:
    """Median milliseconds per stage at each photo size, from the face bench's ``SIZE STAGE``
    cases (value: verifykit, baseline: face_recognition on the same bytes)."""
    ours: dict[str, dict[str, float]] = {}
    theirs: dict[str, dict[str, float | None]] = {}
    for case in report.cases:
        found = _STAGE_CASE.match(case.name)
        if found is None:
            continue
        ours.setdefault(found["stage"], {})[found["size"]] = case.value
        theirs.setdefault(found["stage"], {})[found["size"]] = case.baseline
    sizes = [size for size in _SIZES if any(size in by_size for by_size in ours.values())]
    if not sizes:
        return None
    stages = [stage for stage in ("decode", "detect", "encode", "match") if stage in ours]
    series = [
        Series(f"verifykit {stage}", tuple(ours[stage].get(s) for s in sizes), kin=stage) for stage in stages
    ]
    series += [
        Series(
            f"face_recognition {stage}", tuple(theirs[stage].get(s) for s in sizes), dashed=True, kin=stage
        )
        for stage in stages
    ]
    return Chart(
        title="Face: milliseconds per stage against photo size",
        x_label="megapixels (log)",
        y_label="median milliseconds (log)",
        x=tuple(round(_SIZES[s][0] / 1e6, 2) for s in sizes),
        series=tuple(series),
        ticks=tuple(_SIZES[s][1] for s in sizes),
        log_x=True,
        log_y=True,
    )


def draw_charts(found: Sequence[Chart], path: Path) -> None:
    """Draw ``found`` side by side (two to a row) into the PNG file ``path``.

    Needs matplotlib (``pip install 'verifykit[report]'``); without it, raises ModuleNotFoundError.
    """
    if not found:
        raise ValueError("nothing to draw")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(len(found), 2)
    rows = math.ceil(len(found) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.6 * rows), squeeze=False)
    try:
        for chart, ax in zip(found, axes.flat, strict=False):
            _panel(chart, ax)
        for ax in list(axes.flat)[len(found) :]:
            ax.set_visible(False)
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)


def _panel(chart: Chart, ax: Any) -> None:
    colours: dict[str, str] = {}
    for n, line in enumerate(chart.series):
        kin = line.kin if line.kin is not None else line.label
        colour = colours.setdefault(kin, f"C{len(colours) % 10}")
        ax.plot(
            chart.x,
            [math.nan if v is None else v for v in line.values],
            marker="o" if not line.dashed else "s",
            linestyle="--" if line.dashed else "-",
            color=colour,
            label=line.label,
            zorder=len(chart.series) - n,
        )
    if chart.log_x:
        ax.set_xscale("log")
    if chart.log_y:
        ax.set_yscale("log")
    if chart.ticks is not None:
        ax.set_xticks(chart.x, chart.ticks)
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    ax.set_title(chart.title, fontsize="medium")
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize="small")
