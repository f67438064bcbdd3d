"""The one report format every ``verifykit bench`` subcommand prints.

``--json`` gives ``{"bench": NAME, "cases": [{"name", "unit", "value", "baseline", "ratio"}…], …}``
where ``value`` and ``baseline`` are costs in the same unit (lower is better) and
``ratio = value / baseline``. Without ``--json``, a readable table.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["BenchCase", "BenchReport", "Progress", "percentile", "time_call"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    unit: str
    value: float
    baseline: float | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "ratio": self.ratio,
        }


@dataclass(slots=True)
class BenchReport:
    """Cases (costs against a baseline measured in the same run) plus free-form facts."""

    bench: str
    cases: list[BenchCase] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, name: str, unit: str, value: float, baseline: float | None = None) -> BenchCase:
        case = BenchCase(name, unit, value, baseline)
        self.cases.append(case)
        return case

    def to_json(self) -> str:
        doc: dict[str, Any] = {"bench": self.bench, "cases": [c.to_dict() for c in self.cases]}
        doc.update(self.extra)
        return json.dumps(doc, indent=2, sort_keys=False, default=str)

    def table(self) -> str:
        rows = [("case", "value", "baseline", "ratio")]
        for c in self.cases:
            rows.append(
                (
                    c.name,
                    f"{_fmt(c.value)} {c.unit}",
                    "" if c.baseline is None else f"{_fmt(c.baseline)} {c.unit}",
                    "" if c.ratio is None else f"{c.ratio:.2f}x",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [f"== bench {self.bench} =="]
        for n, r in enumerate(rows):
            lines.append(
                "  ".join(
                    r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(4)
                ).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        for key, value in self.extra.items():
            lines.append(f"{key}: {json.dumps(value, default=str)}")
        return "\n".join(lines)


def _fmt(x: float) -> str:
    if x == 0 or math.isnan(x):
        return f"{x:g}"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.2f}"
    return f"{x:.4f}"


def percentile(samples: list[float], p: float) -> float:
    """The ``p``-th percentile (0-100) by linear interpolation."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    lo = math.floor(rank)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (rank - lo)


def time_call(fn: Callable[[], object]) -> float:
    """The latency of one call, in milliseconds."""
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


class Progress:
    """A progress bar on stderr when it is a terminal and output is not JSON; silent otherwise."""

    def __init__(self, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._label = ""
        self._total = 0
        self._done = 0

    def stage(self, label: str, total: int) -> None:
        self._finish_line()
        self._label, self._total, self._done = label, max(total, 1), 0
        self._draw()

    def step(self, n: int = 1) -> None:
        self._done += n
        if self._done == self._total or self._done % max(self._total // 50, 1) == 0:
            self._draw()

    def iterate(self, label: str, items: Iterable[T], total: int) -> Iterator[T]:
        self.stage(label, total)
        for item in items:
            yield item
            self.step()

    def _draw(self) -> None:
        if not self.enabled:
            return
        frac = min(self._done / self._total, 1.0)
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r{self._label:<40.40} [{bar:<30}] {self._done}/{self._total}")
        sys.stderr.flush()

    def _finish_line(self) -> None:
        if self.enabled and self._label:
            sys.stderr.write("\n")
            sys.stderr.flush()

    def close(self) -> None:
        self._finish_line()
        self._label = ""
