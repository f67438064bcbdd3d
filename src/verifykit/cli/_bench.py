"""``verifykit bench NAME [--json] [--plot FILE.png]``."""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

from ..bench import BENCHES, BenchReport, Progress, charts, draw_charts, plot_refusal

__all__ = ["register"]

SOAK = "verifykit.bench._soak"


def register(sub: Any) -> None:
    parser = sub.add_parser("bench", help="measure verifykit against the raw libraries, in one run")
    sub_names = parser.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module in BENCHES.items():
        p = sub_names.add_parser(name, help=f"the {name} benchmark")
        p.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
        p.add_argument(
            "--plot",
            dest="plot_file",  # not the soak's own --plot
            type=Path,
            metavar="FILE.png",
            help="also draw what the run measured (report extra: matplotlib); with --json, the "
            "figures drawn are under plots",
        )
        p.set_defaults(func=_run, _bench_module=module, _bench_name=name)
        _add_arguments_lazily(p, module)
    # Not one of BENCHES: it runs for minutes (ten by default), so `bench all` leaves it out.
    soak = sub_names.add_parser("soak", help="mixed traffic from many clients through a sidecar")
    soak.add_argument("--json", action="store_true", help="print one JSON document instead of a table")
    soak.set_defaults(func=_run, _bench_module=SOAK)
    _add_arguments_lazily(soak, SOAK)
    everything = sub_names.add_parser("all", help="every benchmark, one after another")
    everything.add_argument("--json", action="store_true")
    everything.set_defaults(func=_run_all)


def _add_arguments_lazily(parser: argparse.ArgumentParser, module: str) -> None:
    try:
        mod = importlib.import_module(module)
    except ImportError:
        # The extra this bench needs is missing; running it will say so.
        return
    mod.add_arguments(parser)


def _run(args: argparse.Namespace) -> int:
    plot: Path | None = getattr(args, "plot_file", None)
    if plot is not None:
        # Before any measuring: a missing extra or a run with nothing to plot is said at once.
        import matplotlib  # noqa: F401

        why = plot_refusal(args._bench_name, args)
        if why is not None:
            print(f"verifykit: bench: {why}", file=sys.stderr)
            return 2
    mod = importlib.import_module(args._bench_module)
    progress = Progress(enabled=None if not args.json else False)
    try:
        report: BenchReport = mod.run(args, progress)
    finally:
        progress.close()
    found = []
    if plot is not None or args.json:
        found = charts(report)
        if args.json and found:
            report.extra["plots"] = [chart.to_dict() for chart in found]
    print(report.to_json() if args.json else report.table())
    if plot is not None:
        if not found:
            print(f"verifykit: bench: the run measured nothing to plot; {plot} not written", file=sys.stderr)
            return 2
        draw_charts(found, plot)
        print(f"plot written to {plot}", file=sys.stderr)
    # A missed goal that fails the command (the soak's: an unintended status, descriptors or RSS
    # growing, OTP p99 above 3 x p50) exits 1; a case's own goal is only reported.
    return report.exit_status


def _run_all(args: argparse.Namespace) -> int:
    from . import build_parser

    status = 0
    for name in BENCHES:
        sub_args = build_parser().parse_args(["bench", name, *(["--json"] if args.json else [])])
        status |= _run(sub_args)
    return status
