"""The one report format every ``verifykit bench`` subcommand prints.

``--json`` gives ``{"bench": NAME, "cases": [{"name", "unit", "value", "baseline", "ratio", "goal",
"met"}…], "missed": […], …}`` where ``value`` and ``baseline`` are costs in the same unit (lower is
better), ``ratio = value / baseline`` (below 1: cheaper than the baseline), ``goal`` the bounds the
ratio should keep (or null), ``met`` whether it did, and ``missed`` the goals whose miss fails the
command (the soak's). Without ``--json``, a readable table that says all of this in its header.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["BenchCase", "BenchReport", "Goal", "Progress", "percentile", "time_call"]

T = TypeVar("T")

# What every table says above its rows: which way is better, and how to read a ratio.
READING = (
    "value, baseline: costs, lower is better",
    "ratio = value / baseline: below 1.00, cheaper than the baseline; above 1.00, costlier",
)
# Goals stated in a case's name: "(goal <= 1.03)" or "(goal 0.95-1.05)", bounds on its ratio.
_NUMBER = r"\d+(?:\.\d+)?"
_GOAL_IN_NAME = re.compile(rf"\(goal (?:<= ?(?P<most>{_NUMBER})|(?P<low>{_NUMBER})-(?P<high>{_NUMBER}))\)")


@dataclass(frozen=True, slots=True)
class Goal:
    """Bounds a case's ratio should keep: met when ``at_least <= ratio <= at_most`` (None: open)."""

    at_most: float | None = None
    at_least: float | None = None

    def __post_init__(self) -> None:
        if self.at_most is None and self.at_least is None:
            raise ValueError("a goal needs at least one bound")
        if self.at_most is not None and self.at_least is not None and self.at_least > self.at_most:
            raise ValueError(f"a goal's lower bound {self.at_least} is above its upper bound {self.at_most}")

    @classmethod
    def in_name(cls, name: str) -> Goal | None:
        """The goal a case's name states, ``(goal <= 1.03)`` or ``(goal 0.95-1.05)``; None otherwise."""
        found = _GOAL_IN_NAME.search(name)
        if found is None:
            return None
        if found["most"] is not None:
            return cls(at_most=float(found["most"]))
        return cls(at_most=float(found["high"]), at_least=float(found["low"]))

    def met(self, ratio: float | None) -> bool | None:
        """Whether ``ratio`` keeps the bounds; None when there is no ratio to judge."""
        if ratio is None or math.isnan(ratio):
            return None
        return (self.at_most is None or ratio <= self.at_most) and (
            self.at_least is None or ratio >= self.at_least
        )

    def __str__(self) -> str:
        if self.at_least is None:
            return f"ratio <= {self.at_most:.2f}"
        if self.at_most is None:
            return f"ratio >= {self.at_least:.2f}"
        return f"ratio {self.at_least:.2f}-{self.at_most:.2f}"


@dataclass(frozen=True, slots=True)
class BenchCase:
    name: str
    unit: str
    value: float
    baseline: float | None = None
    goal: Goal | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def met(self) -> bool | None:
        """Whether the case met its goal; None without a goal or a ratio to judge."""
        return None if self.goal is None else self.goal.met(self.ratio)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unit": self.unit,
            "value": self.value,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "goal": None if self.goal is None else str(self.goal),
            "met": self.met,
        }


@dataclass(slots=True)
class BenchReport:
    """Cases (costs against a baseline measured in the same run) plus free-form facts.

    ``missed`` names the goals whose miss fails the command (``verifykit bench`` then exits 1);
    a case's own goal is reported as met or not met but fails nothing, since a loaded machine
    moves single figures.
    """

    bench: str
    cases: list[BenchCase] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    missed: list[str] = field(default_factory=list)

    def add(
        self, name: str, unit: str, value: float, baseline: float | None = None, goal: Goal | None = None
    ) -> BenchCase:
        """Add a case; without ``goal``, the one its name states (:meth:`Goal.in_name`), if any."""
        case = BenchCase(name, unit, value, baseline, goal if goal is not None else Goal.in_name(name))
        self.cases.append(case)
        return case

    @property
    def exit_status(self) -> int:
        """0, or 1 when a goal that fails the command was missed."""
        return 1 if self.missed else 0

    def to_json(self) -> str:
        doc: dict[str, Any] = {
            "bench": self.bench,
            "cases": [c.to_dict() for c in self.cases],
            "missed": self.missed,
        }
        doc.update(self.extra)
        return json.dumps(doc, indent=2, sort_keys=False, default=str)

    def table(self) -> str:
        with_goals = any(c.goal is not None for c in self.cases)
        rows = [("case", "value", "baseline", "ratio", *(("goal",) if with_goals else ()))]
        for c in self.cases:
            row = (
                c.name,
                f"{_fmt(c.value)} {c.unit}",
                "" if c.baseline is None else f"{_fmt(c.baseline)} {c.unit}",
                "" if c.ratio is None else f"{c.ratio:.2f}x",
            )
            rows.append((*row, _verdict(c)) if with_goals else row)
        columns = len(rows[0])
        widths = [max(len(r[i]) for r in rows) for i in range(columns)]
        lines = [f"== bench {self.bench} ==", *READING]
        for n, r in enumerate(rows):
            lines.append(
                "  ".join(
                    r[i].ljust(widths[i]) if i in (0, 4) else r[i].rjust(widths[i]) for i in range(columns)
                ).rstrip()
            )
            if n == 0:
                lines.append("  ".join("-" * w for w in widths))
        for key, value in self.extra.items():
            lines.append(f"{key}: {json.dumps(value, default=str)}")
        if self.missed:
            lines += [f"goal not met: {goal}" for goal in self.missed]
        return "\n".join(lines)


def _verdict(case: BenchCase) -> str:
    if case.goal is None:
        return ""
    met = case.met
    return f"{'no ratio' if met is None else 'met' if met else 'NOT MET'} ({case.goal})"


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
