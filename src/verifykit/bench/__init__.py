"""Benchmarks behind ``verifykit bench NAME``: each compares against the raw library in the same run.

Each bench module offers ``add_arguments(parser)`` and ``run(args, progress) -> BenchReport``.
"""

from __future__ import annotations

from ._plots import Chart, Series, charts, draw_charts, plot_refusal
from ._report import BenchCase, BenchReport, Progress, percentile, time_call

# name -> module; loaded only when that bench runs, so a missing extra affects only its bench.
BENCHES: dict[str, str] = {
    "store": "verifykit.bench._store",
    "otp": "verifykit.bench._otp",
    "face": "verifykit.bench._face",
    "grpc": "verifykit.bench._grpc",
    "hash": "verifykit.bench._hash",
    "index": "verifykit.bench._index",
}

__all__ = [
    "BENCHES",
    "BenchCase",
    "BenchReport",
    "Chart",
    "Progress",
    "Series",
    "charts",
    "draw_charts",
    "percentile",
    "plot_refusal",
    "time_call",
]
