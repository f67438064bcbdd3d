"""What checking a stored hash costs, against one run of the current preset.

A verify must take as long for an unknown subject (checked against a dummy hash made with the
current preset) as for an existing one, whatever form its hash is stored in. A form that is
cheaper to check (an older preset, argon2i/argon2d, bcrypt, PBKDF2) is topped up by
:class:`~verifykit.password.PasswordHasher` with an argon2id run of the preset's passes and
lanes and the missing share of its memory; this module says how large that share is.

A check's *shape* is its family (argon2 of one variant, version, pass count and lane count;
bcrypt; PBKDF2-SHA256) and its size in that family's units (KiB of memory, 2**cost rounds,
iterations). Within the preset's own family the share follows from the parameters alone.
Across families it comes from measurement, because how bcrypt or SHA-256 compare with argon2's
memory-bound work depends on the machine, and an argon2 run's time per KiB on how much of it
fits in a cache: :class:`WorkMeter` keeps the median time of the most recent checks of each
shape, each divided by the time of a preset run at that moment (an unmeasured shape is scaled
from a measured one of its family), and until a shape is measured it falls back to a rough
model.

The top-up's own time is not linear in its memory either: a run small enough to sit in a cache
takes less than its share. So the meter also learns, for each shape, how much memory the top-up
needs per share of a preset run's time, from the top-ups it has timed (see
:meth:`WorkMeter.memory_share`).
"""

from __future__ import annotations

import os
import statistics
import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from .._errors import ConfigurationError

__all__ = [
    "DEFAULT_MAX_SHAPES",
    "DEFAULT_MIN_SAMPLES",
    "DEFAULT_TOP_UP_WINDOW",
    "DEFAULT_WINDOW",
    "CostModel",
    "Shape",
    "WorkMeter",
    "argon2_shape",
    "bcrypt_shape",
    "pbkdf2_shape",
    "prior_unit_cost",
]

#: Checks of one shape whose times are kept; their median is its cost.
DEFAULT_WINDOW = 31
#: Checks of a shape (and of the preset's) needed before measurement replaces the rough model.
DEFAULT_MIN_SAMPLES = 5
#: Shapes measured at once; the least recently seen is forgotten beyond this.
DEFAULT_MAX_SHAPES = 64
#: Top-ups of one shape whose memory-per-time ratios are kept (few, so the ratio settles fast).
DEFAULT_TOP_UP_WINDOW = 9
# A learned memory-per-time ratio outside this range is noise, not a cache.
_RATIO_BOUNDS = (0.25, 4.0)

# The rough model, in seconds per unit on one core of a current x86-64 server. It only has to
# be close until a few checks have been measured. argon2: filling and wiping the memory once,
# plus each pass over it, divided among the lanes that can run at once.
_ARGON2_FILL_S_PER_KIB = 0.25e-6
_ARGON2_PASS_S_PER_KIB = 0.7e-6
_BCRYPT_S_PER_ROUND = 53e-6
_PBKDF2_S_PER_ITERATION = 0.19e-6

Family = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Shape:
    """The cost of one check: its family and its size in that family's units."""

    family: Family
    units: int


def argon2_shape(variant: str, version: int, time_cost: int, memory_cost: int, parallelism: int) -> Shape:
    """An argon2 check: its time grows with memory (KiB) for given variant, version, passes and lanes."""
    return Shape(("argon2", variant, version, time_cost, parallelism), memory_cost)


def bcrypt_shape(rounds_log2: int) -> Shape:
    return Shape(("bcrypt",), 1 << rounds_log2)


def pbkdf2_shape(iterations: int) -> Shape:
    return Shape(("pbkdf2_sha256",), iterations)


def prior_unit_cost(family: Family, cpus: int | None = None) -> float:
    """The rough model's seconds per unit of ``family`` (used until it has been measured)."""
    if family[0] == "argon2":
        _, _, _, time_cost, parallelism = family
        lanes = min(int(parallelism), max(cpus if cpus is not None else (os.cpu_count() or 1), 1))
        return (_ARGON2_FILL_S_PER_KIB + int(time_cost) * _ARGON2_PASS_S_PER_KIB) / lanes
    if family[0] == "bcrypt":
        return _BCRYPT_S_PER_ROUND
    if family[0] == "pbkdf2_sha256":
        return _PBKDF2_S_PER_ITERATION
    raise ConfigurationError(f"no cost model for hash family {family[0]!r}")


@runtime_checkable
class CostModel(Protocol):
    """What :class:`~verifykit.password.PasswordHasher` asks about costs (:class:`WorkMeter` by default)."""

    def record(self, shape: Shape, seconds: float, reference: Shape) -> None:
        """One check of ``shape`` took ``seconds``; ``reference`` is the preset's shape."""

    def relative_cost(self, shape: Shape, reference: Shape) -> float:
        """The cost of checking ``shape`` as a multiple of checking ``reference``."""

    def memory_share(self, shape: Shape, time_share: float) -> float:
        """The share of the preset's memory a top-up needs to take ``time_share`` of a preset run."""

    def record_top_up(self, shape: Shape, memory_share: float, seconds: float, reference: Shape) -> None:
        """A top-up after a check of ``shape``, with ``memory_share`` of the preset's memory,
        took ``seconds``."""


_Key = Shape | tuple[Shape, Shape]


class WorkMeter:
    """Measured costs: the median of the last ``window`` checks of each shape.

    Each check of a stored shape is divided by what a preset run takes *at that moment* (the
    median of its recent checks, which an unknown subject's dummy and every current hash
    refresh), so a change in the machine's load moves both sides of a comparison together.
    Thread-safe; one per hasher. Measurement replaces the rough model once a shape has
    ``min_samples`` such checks.
    """

    def __init__(
        self,
        *,
        window: int = DEFAULT_WINDOW,
        min_samples: int = DEFAULT_MIN_SAMPLES,
        max_shapes: int = DEFAULT_MAX_SHAPES,
        top_up_window: int = DEFAULT_TOP_UP_WINDOW,
    ) -> None:
        settings = {"window": window, "min_samples": min_samples, "max_shapes": max_shapes}
        settings["top_up_window"] = top_up_window
        for name, value in settings.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"{name} must be an integer >= 1")
        if min_samples > window:
            raise ConfigurationError("min_samples cannot exceed window")
        self.window = window
        self.min_samples = min_samples
        self.max_shapes = max_shapes
        self.top_up_window = top_up_window
        self._seconds: OrderedDict[_Key, deque[float]] = OrderedDict()
        self._relative: OrderedDict[_Key, deque[float]] = OrderedDict()
        self._ratios: OrderedDict[_Key, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _append(self, table: OrderedDict[_Key, deque[float]], key: _Key, value: float, window: int) -> None:
        with self._lock:
            samples = table.get(key)
            if samples is None:
                if len(table) >= self.max_shapes:
                    table.popitem(last=False)
                samples = table[key] = deque(maxlen=window)
            else:
                table.move_to_end(key)
            samples.append(value)

    def _median(self, table: OrderedDict[_Key, deque[float]], key: _Key, needed: int) -> float | None:
        with self._lock:
            samples = table.get(key)
            if samples is None or len(samples) < needed:
                return None
            return statistics.median(samples)

    def seconds(self, shape: Shape) -> float | None:
        """The measured seconds one check of ``shape`` takes, or None while it has too few."""
        return self._median(self._seconds, shape, self.min_samples)

    def record(self, shape: Shape, seconds: float, reference: Shape) -> None:
        if shape.units < 1 or not seconds >= 0:
            return
        self._append(self._seconds, shape, seconds, self.window)
        if shape != reference:
            baseline = self.seconds(reference)
            if baseline is not None and baseline > 0:
                self._append(self._relative, (shape, reference), seconds / baseline, self.window)

    def relative_cost(self, shape: Shape, reference: Shape) -> float:
        if shape.family == reference.family:
            return shape.units / reference.units
        measured = self._median(self._relative, (shape, reference), self.min_samples)
        if measured is not None:
            return measured
        # Unmeasured: scale the most recently measured shape of its family (bcrypt and PBKDF2
        # are linear in their units), else the rough model.
        with self._lock:
            kin = [k for k in reversed(self._relative) if isinstance(k, tuple) and k[1] == reference]
        for other, _ in kin:
            if other.family == shape.family:
                relative = self._median(self._relative, (other, reference), self.min_samples)
                if relative is not None:
                    return relative * shape.units / other.units
        return (
            prior_unit_cost(shape.family)
            * shape.units
            / (prior_unit_cost(reference.family) * reference.units)
        )

    def memory_share(self, shape: Shape, time_share: float) -> float:
        """``time_share`` times the median memory-per-time ratio of this shape's recent top-ups
        (1 until it has ``min_samples`` of them, or ``top_up_window`` if that is fewer)."""
        ratio = self._median(self._ratios, shape, min(self.min_samples, self.top_up_window))
        return time_share * (ratio if ratio is not None else 1.0)

    def record_top_up(self, shape: Shape, memory_share: float, seconds: float, reference: Shape) -> None:
        baseline = self.seconds(reference)
        if baseline is None or baseline <= 0 or seconds <= 0 or memory_share <= 0:
            return
        low, high = _RATIO_BOUNDS
        ratio = min(max(memory_share / (seconds / baseline), low), high)
        self._append(self._ratios, shape, ratio, self.top_up_window)
