"""``verifykit report``: where people get stuck, counted from a signed audit log.

The log is verified first, exactly as ``verifykit audit verify`` does (the same key, head file
and anchors); a log that is not intact gives no figures at all: one line saying why, exit 1.
Then, for the period (``--since``/``--until``, ISO 8601, UTC when no offset is given; default:
the days or hours the log covers) per day or hour and in total: email-code challenges started,
delivered, approved, expired unanswered, abandoned after a failed delivery; the people stuck
after one, and the way in that rescued them (or a later email code, or nothing yet); lockout
refusals; lockouts cleared by a counter voucher; the median and 90th percentile of the time from
start to approval. Only counts and durations: never a subject, an address or a challenge id.

``--json`` prints one JSON document; ``--plot FILE.png`` also draws conversion and the people
stuck per bucket (the report extra: matplotlib). Exit 2 when it cannot run.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import plain_text
from ._audit import add_log_arguments, anchor_sources, intact_lines

if TYPE_CHECKING:
    from ..auditlog import PlotSeries

__all__ = ["draw_plot", "register"]

# A log whose records carry far-apart times (a Python caller's events stamped by hand) would
# otherwise ask for a table of millions of empty hours.
_MAX_BUCKETS = 10_000


def _instant(value: str) -> float:
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {value!r}") from None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"not a positive number of seconds: {value!r}")
    return seconds


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "report",
        help="where people get stuck: the email-code funnel and rescues, from a verified audit log",
        description=plain_text(__doc__),
    )
    parser.add_argument("path", type=Path, metavar="AUDIT_LOG", help="the audit log")
    add_log_arguments(parser)
    parser.add_argument("--since", type=_instant, metavar="ISO", help="start of the period (included)")
    parser.add_argument("--until", type=_instant, metavar="ISO", help="end of the period (excluded)")
    parser.add_argument("--by", choices=["day", "hour"], default="day", help="bucket size (default: day)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="also draw the plot (report extra)")
    parser.add_argument(
        "--otp-ttl",
        type=_seconds,
        metavar="SECONDS",
        help="the sidecar's otp_ttl, for logs whose start records do not carry their expiry "
        "(default: the library's)",
    )
    parser.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    if args.plot is not None:
        import matplotlib  # noqa: F401 - before any work: a missing extra is named at once

    from ..auditlog import bucket_start, insights, load_public_key, plot_series, read_verified, render_table
    from ..otp import OTPSettings

    with anchor_sources(args.anchor) as anchors:
        log = read_verified(
            args.path, load_public_key(args.key), head=args.head, check_head=not args.no_head, anchors=anchors
        )
    report = log.report
    if report.problem is not None:
        print(f"verifykit report: the audit log is not intact, no figures: {report.problem}", file=sys.stderr)
        return 1
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    first = min((e.at for e in log.events), default=log.last_at)
    since = args.since if args.since is not None else bucket_start(first, args.by)
    size = 86400 if args.by == "day" else 3600
    until = args.until if args.until is not None else bucket_start(log.last_at, args.by) + size
    if not until > since:
        print("verifykit report: --until must be after --since", file=sys.stderr)
        return 2
    if (until - since) / size > _MAX_BUCKETS:
        print(
            f"verifykit report: the period holds more than {_MAX_BUCKETS} {args.by}s: "
            "narrow it with --since and --until, or report --by day",
            file=sys.stderr,
        )
        return 2
    ttl = args.otp_ttl if args.otp_ttl is not None else OTPSettings().ttl
    result = insights(log.events, since=since, until=until, by=args.by, as_of=log.last_at, otp_ttl=ttl)
    if args.json:
        verified = {
            "lines": report.lines,
            "records": sum(w.records for w in report.writers),
            "writers": len(report.writers),
            "anchor_checked": report.anchor is not None,
            "warnings": len(report.warnings),
            "records_skipped": log.skipped,
        }
        print(json.dumps({"log": verified, **result.to_dict()}, indent=2))
    else:
        print("\n".join([*intact_lines(report), "", render_table(result)]))
    if args.plot is not None:
        draw_plot(plot_series(result), args.plot)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


def draw_plot(series: PlotSeries, path: Path) -> None:
    """Draw ``series`` to the PNG file ``path``: conversion per bucket above, and the people stuck
    per bucket below, split by how they got in (another way in, a later email code, not yet)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    positions = list(range(len(series.labels)))
    ticks = [label[11:] if series.by == "hour" else label for label in series.labels]
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(1, 1))
    try:
        top.plot(
            positions,
            [float("nan") if c is None else 100 * c for c in series.conversion],
            marker="o",
            color="#1f77b4",
            clip_on=False,
        )
        top.set_ylabel("email codes approved (%)")
        top.set_ylim(0, 105)
        top.grid(axis="y", alpha=0.3)
        top.set_title("Conversion, and people stuck after an email code, per " + series.by + " (UTC)")
        rescued, retried, still = series.rescued, series.retried, series.still_stuck
        bottom.bar(positions, rescued, color="#2ca02c", label="rescued by another way in")
        bottom.bar(positions, retried, bottom=rescued, color="#aaaaaa", label="a later email code")
        lower = [a + b for a, b in zip(rescued, retried, strict=True)]
        bottom.bar(positions, still, bottom=lower, color="#d62728", label="still stuck")
        bottom.set_ylabel("people stuck")
        bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.legend(loc="upper left", fontsize="small")
        rotation = 0 if series.by == "hour" and len(positions) <= 24 else 90
        bottom.set_xticks(positions, ticks, rotation=rotation, fontsize="small")
        figure.tight_layout()
        figure.savefig(path, dpi=100)
    finally:
        plt.close(figure)
