"""Where people get stuck, read from audit events: the email-code funnel per day or hour, who was
rescued by which other way in, who is still stuck, lockouts, and lockouts cleared by a voucher.

Everything here is pure: :func:`insights` takes audit events (:class:`~verifykit.AuditEvent`, or
anything with the same attributes, such as the records :func:`read_verified` reads back from a
verified log) and returns counts and durations only, never a subject, an address or a challenge
id. :func:`render_table`, :meth:`Insights.to_dict` and :func:`plot_series` present the result;
``verifykit report`` prints it.

What is counted, and where:

- **Email-code challenges**, in the bucket where they started (a cohort): each ends as exactly one
  of *approved*; *abandoned after a failed delivery* (a send failed and no code of it was
  approved); *canceled*; *denied* (its attempts ran out, or the subject's lockout refused a
  check); *expired unanswered* (never approved, and its expiry passed); or *open* (its expiry
  is still ahead at the end of the period). *Delivered* counts those with a send that went
  out. Conversion is approved / started; the durations run from start to approval.
- **Stuck**: a person is stuck from the start of a challenge that ended abandoned, denied or
  expired until their next approval of any kind. Each such episode counts in the bucket where it
  began, ended by a *rescue* (an approval by another way in: the way that approved), a *retry*
  (a later email code approved), or not at all within the period (*still stuck*).
- **Locked out** (refusals for ``locked_out`` or ``hard_locked``, any way in) and **cleared by a
  voucher** (counter vouchers redeemed), in the bucket where they happened.

Buckets are UTC days or hours. Events outside ``[since, until)`` are left out, challenges that
started before ``since`` with them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from .._verdict import Reason, Way

__all__ = [
    "RESCUE_WAYS",
    "BucketFigures",
    "Durations",
    "EventLike",
    "Figures",
    "Insights",
    "PlotSeries",
    "bucket_start",
    "insights",
    "plot_series",
    "render_table",
]

By = Literal["day", "hour"]
_SECONDS: dict[str, int] = {"day": 86400, "hour": 3600}

#: The ways in that can rescue a person an email code failed, in the order reports show them.
RESCUE_WAYS: tuple[Way, ...] = (
    Way.AUTHENTICATOR_APP,
    Way.RECOVERY_CODE,
    Way.PASSKEY,
    Way.PASSWORD,
    Way.FACE,
    Way.COUNTER_VOUCHER,
)
_LOCKS = frozenset({Reason.LOCKED_OUT.value, Reason.HARD_LOCKED.value})
_CLOSING = frozenset({Reason.ATTEMPTS_EXHAUSTED.value, *_LOCKS})
_STUCK_ENDS = frozenset({"abandoned_after_failed_delivery", "denied", "expired_unanswered"})


class EventLike(Protocol):
    """What :func:`insights` reads of an audit event (:class:`~verifykit.AuditEvent` has it all)."""

    @property
    def action(self) -> str: ...
    @property
    def verifier(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def challenge_id(self) -> str | None: ...
    @property
    def at(self) -> float: ...
    @property
    def details(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Durations:
    """Seconds from start to approval: how many, the median and the 90th percentile (linear
    interpolation between the closest ranks); None when nothing was approved."""

    count: int = 0
    median: float | None = None
    p90: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        ordered = sorted(values)
        return cls(len(ordered), _quantile(ordered, 0.5), _quantile(ordered, 0.9))


def _quantile(ordered: list[float], q: float) -> float | None:
    if not ordered:
        return None
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True, slots=True)
class Figures:
    """The figures of one bucket, or of the whole period. Every started challenge ends as one of
    approved, abandoned_after_failed_delivery, canceled, denied, expired_unanswered or open; every
    stuck episode as a rescue, a retry or still_stuck."""

    started: int = 0
    delivered: int = 0
    approved: int = 0
    expired_unanswered: int = 0
    abandoned_after_failed_delivery: int = 0
    denied: int = 0
    canceled: int = 0
    open: int = 0
    stuck: int = 0
    rescued: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(RESCUE_WAYS, 0))
    retried: int = 0
    still_stuck: int = 0
    locked_out: int = 0
    cleared_by_voucher: int = 0
    approval_seconds: Durations = Durations()

    @property
    def conversion(self) -> float | None:
        """Approved / started; None when nothing started."""
        return self.approved / self.started if self.started else None

    @property
    def rescued_total(self) -> int:
        return sum(self.rescued.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "delivered": self.delivered,
            "approved": self.approved,
            "expired_unanswered": self.expired_unanswered,
            "abandoned_after_failed_delivery": self.abandoned_after_failed_delivery,
            "denied": self.denied,
            "canceled": self.canceled,
            "open": self.open,
            "conversion": self.conversion,
            "approval_seconds": {
                "count": self.approval_seconds.count,
                "median": self.approval_seconds.median,
                "p90": self.approval_seconds.p90,
            },
            "stuck": self.stuck,
            "rescued": {str(way): count for way, count in self.rescued.items()},
            "rescued_total": self.rescued_total,
            "retried": self.retried,
            "still_stuck": self.still_stuck,
            "locked_out": self.locked_out,
            "cleared_by_voucher": self.cleared_by_voucher,
        }


@dataclass(frozen=True, slots=True)
class BucketFigures:
    """One day or hour: ``start`` (seconds since the epoch, UTC) and its figures."""

    start: float
    figures: Figures


@dataclass(frozen=True, slots=True)
class Insights:
    """The figures of a period ``[since, until)``, per bucket and in total. ``as_of`` is the time
    the period was judged at (an expiry after it leaves a challenge open): ``until``, or the time
    of the log's last line when that is earlier."""

    since: float
    until: float
    as_of: float
    by: By
    buckets: tuple[BucketFigures, ...]
    total: Figures

    def label(self, start: float) -> str:
        """A bucket's name: ``2024-06-10`` or ``2024-06-10 14:00`` (UTC)."""
        return _utc(start).strftime("%Y-%m-%d" if self.by == "day" else "%Y-%m-%d %H:%M")

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": {
                "since": _utc(self.since).isoformat(),
                "until": _utc(self.until).isoformat(),
                "as_of": _utc(self.as_of).isoformat(),
                "by": self.by,
                "time_zone": "UTC",
            },
            "buckets": [
                {"start": _utc(b.start).isoformat(), "label": self.label(b.start), **b.figures.to_dict()}
                for b in self.buckets
            ],
            "total": self.total.to_dict(),
        }


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def bucket_start(at: float, by: By) -> float:
    """The start of the UTC day or hour that holds ``at``."""
    size = _SECONDS[by]
    return math.floor(at / size) * size


# -- counting ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Challenge:
    subject: str
    started: float
    expires: float
    delivered: bool = False
    failed: bool = False
    approved: float | None = None
    closed: str | None = None  # "denied", "canceled" or "expired" (a check said so)

    def follow(self, event: EventLike, otp_ttl: float) -> bool:
        """Take one later event of this challenge into account; True when it approved it."""
        if event.action == "resend":
            self.expires = _expiry(event, otp_ttl)
        elif event.action == "send":
            self.delivered |= event.outcome == "sent"
            self.failed |= event.outcome == "failed"
        elif event.action == "cancel":
            self.closed = self.closed or "canceled"
        elif event.action == "check" and self.approved is None:
            if event.outcome == "approved":
                self.approved = event.at
                return True
            if event.reason in _CLOSING:
                self.closed = self.closed or "denied"
            elif event.reason == Reason.EXPIRED:
                self.closed = self.closed or "expired"
        return False

    def end(self, as_of: float) -> str:
        if self.approved is not None:
            return "approved"
        if self.failed:
            return "abandoned_after_failed_delivery"
        if self.closed == "canceled":
            return "canceled"
        if self.closed == "denied":
            return "denied"
        if self.closed == "expired" or self.expires <= as_of:
            return "expired_unanswered"
        return "open"


@dataclass(slots=True)
class _Tally:
    counts: dict[str, int] = field(default_factory=dict)
    rescued: dict[str, int] = field(default_factory=lambda: dict.fromkeys(RESCUE_WAYS, 0))
    durations: list[float] = field(default_factory=list)

    def add(self, name: str, count: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + count

    def merge(self, other: _Tally) -> None:
        for name, count in other.counts.items():
            self.add(name, count)
        for way, count in other.rescued.items():
            self.rescued[way] = self.rescued.get(way, 0) + count
        self.durations += other.durations

    def figures(self) -> Figures:
        c = self.counts
        return Figures(
            started=c.get("started", 0),
            delivered=c.get("delivered", 0),
            approved=c.get("approved", 0),
            expired_unanswered=c.get("expired_unanswered", 0),
            abandoned_after_failed_delivery=c.get("abandoned_after_failed_delivery", 0),
            denied=c.get("denied", 0),
            canceled=c.get("canceled", 0),
            open=c.get("open", 0),
            stuck=c.get("stuck", 0),
            rescued=dict(self.rescued),
            retried=c.get("retried", 0),
            still_stuck=c.get("still_stuck", 0),
            locked_out=c.get("locked_out", 0),
            cleared_by_voucher=c.get("cleared_by_voucher", 0),
            approval_seconds=Durations.of(self.durations),
        )


def _expiry(event: EventLike, otp_ttl: float) -> float:
    try:
        return float(event.details["expires_at"])
    except (KeyError, ValueError):
        return event.at + otp_ttl  # a record from before starts carried their expiry


def _follow_challenges(
    events: list[EventLike], otp_ttl: float
) -> tuple[dict[str, _Challenge], list[tuple[float, str, str]]]:
    """Each email-code challenge started in the period; and every approval: (at, subject, way)."""
    challenges: dict[str, _Challenge] = {}
    approvals: list[tuple[float, str, str]] = []
    for event in events:
        if event.verifier != Way.EMAIL_CODE:
            approving = event.action in {"verify", "redeem"} and event.outcome == "approved"
            if approving and event.verifier in RESCUE_WAYS:
                approvals.append((event.at, event.subject, event.verifier))
            continue
        cid = event.challenge_id
        if cid is None:
            continue
        if event.action == "start":
            challenges[cid] = _Challenge(event.subject, event.at, _expiry(event, otp_ttl))
            continue
        challenge = challenges.get(cid)
        if challenge is not None and challenge.follow(event, otp_ttl):  # None: started before the period
            approvals.append((event.at, event.subject, Way.EMAIL_CODE))
    return challenges, approvals


def _episodes(
    ends: list[tuple[_Challenge, str]], approvals: list[tuple[float, str, str]]
) -> list[tuple[float, str | None]]:
    """Each stuck episode: (when it began, how it ended: a way in, or None while still stuck)."""
    timeline: dict[str, list[tuple[float, int, str]]] = {}
    for challenge, end in ends:
        if end in _STUCK_ENDS:
            timeline.setdefault(challenge.subject, []).append((challenge.started, 0, ""))
    for at, subject, way in approvals:
        if subject in timeline:
            timeline[subject].append((at, 1, way))
    found: list[tuple[float, str | None]] = []
    for moments in timeline.values():
        began: float | None = None
        for at, is_approval, way in sorted(moments):
            if not is_approval and began is None:
                began = at
            elif is_approval and began is not None:
                found.append((began, way))
                began = None
        if began is not None:
            found.append((began, None))
    return found


def insights(
    events: Iterable[EventLike],
    *,
    since: float,
    until: float,
    by: By = "day",
    as_of: float | None = None,
    otp_ttl: float,
) -> Insights:
    """The figures of ``events`` in ``[since, until)`` per UTC day or hour (``by``) and in total.

    ``as_of`` (default ``until``, and never after it) is when the period is judged: a challenge
    whose expiry is after it is still open. ``otp_ttl`` is the code lifetime assumed for start
    records that do not carry their challenge's expiry (logs written before they did).
    """
    if by not in _SECONDS:
        raise ValueError("by is day or hour")
    if not until > since:
        raise ValueError("until must be after since")
    judged = until if as_of is None else min(as_of, until)
    kept = sorted((e for e in events if since <= e.at < until), key=lambda e: e.at)
    tallies: dict[float, _Tally] = {}

    def tally(at: float) -> _Tally:
        key = bucket_start(at, by)
        if key not in tallies:
            tallies[key] = _Tally()
        return tallies[key]

    for event in kept:
        if event.outcome in {"denied", "refused"} and event.reason in _LOCKS:
            tally(event.at).add("locked_out")
        if (event.verifier, event.action, event.outcome) == (Way.COUNTER_VOUCHER, "redeem", "approved"):
            tally(event.at).add("cleared_by_voucher")
    challenges, approvals = _follow_challenges(kept, otp_ttl)
    ends = [(challenge, challenge.end(judged)) for challenge in challenges.values()]
    for challenge, end in ends:
        counts = tally(challenge.started)
        counts.add("started")
        counts.add(end)
        counts.add("delivered", int(challenge.delivered))
        if challenge.approved is not None:
            counts.durations.append(challenge.approved - challenge.started)
    for began, way in _episodes(ends, approvals):
        counts = tally(began)
        counts.add("stuck")
        if way is None:
            counts.add("still_stuck")
        elif way == Way.EMAIL_CODE:
            counts.add("retried")
        else:
            counts.rescued[way] = counts.rescued.get(way, 0) + 1

    size = _SECONDS[by]
    starts = [float(s) for s in range(int(bucket_start(since, by)), math.ceil(until), size)]
    total = _Tally()
    for each in tallies.values():
        total.merge(each)
    buckets = tuple(BucketFigures(s, tallies.get(s, _Tally()).figures()) for s in starts)
    return Insights(since, until, judged, by, buckets, total.figures())


# -- presenting -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlotSeries:
    """What the plot draws, one value per bucket: conversion (None where nothing started), the
    people who got stuck, and how: rescued by another way in, by a later email code, or still
    stuck (the three add up to ``stuck``)."""

    by: By
    labels: tuple[str, ...]
    conversion: tuple[float | None, ...]
    stuck: tuple[int, ...]
    rescued: tuple[int, ...]
    retried: tuple[int, ...]
    still_stuck: tuple[int, ...]


def plot_series(report: Insights) -> PlotSeries:
    figures = [b.figures for b in report.buckets]
    return PlotSeries(
        report.by,
        tuple(report.label(b.start) for b in report.buckets),
        tuple(f.conversion for f in figures),
        tuple(f.stuck for f in figures),
        tuple(f.rescued_total for f in figures),
        tuple(f.retried for f in figures),
        tuple(f.still_stuck for f in figures),
    )


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))]).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def funnel_row(label: str, f: Figures) -> list[str]:
    """A row of the email-code table, as printed."""
    counts = [
        f.started,
        f.delivered,
        f.approved,
        f.expired_unanswered,
        f.abandoned_after_failed_delivery,
        f.denied,
        f.canceled,
        f.open,
    ]
    return [
        label,
        *map(str, counts),
        _percent(f.conversion),
        _seconds(f.approval_seconds.median),
        _seconds(f.approval_seconds.p90),
    ]


def stuck_row(label: str, f: Figures) -> list[str]:
    """A row of the stuck-and-rescued table, as printed."""
    rescued = [f.rescued.get(way, 0) for way in RESCUE_WAYS]
    counts = [f.stuck, *rescued, f.retried, f.still_stuck, f.locked_out, f.cleared_by_voucher]
    return [label, *map(str, counts)]


FUNNEL_HEADERS = [
    "started",
    "delivered",
    "approved",
    "expired",
    "mail failed",
    "denied",
    "canceled",
    "open",
    "conversion",
    "median s",
    "p90 s",
]
STUCK_HEADERS = [
    "stuck",
    *(str(way) for way in RESCUE_WAYS),
    "email again",
    "still stuck",
    "locked out",
    "voucher clears",
]


def render_table(report: Insights) -> str:
    """The report as plain text: the email-code funnel, then who got stuck and how they got in."""
    period = f"{_utc(report.since):%Y-%m-%d %H:%M} to {_utc(report.until):%Y-%m-%d %H:%M} UTC"
    when = report.by + " (UTC)"
    rows = [b for b in report.buckets if b.figures != Figures()]
    out = [
        f"period: {period}; judged as of {_utc(report.as_of):%Y-%m-%d %H:%M:%S} UTC",
        "",
        "Email-code challenges, by the " + report.by + " they started "
        "(mail failed: a send failed and no code was approved; expired: never approved, time ran out)",
        *_table(
            [when, *FUNNEL_HEADERS],
            [funnel_row(report.label(b.start), b.figures) for b in rows]
            + [funnel_row("total", report.total)],
        ),
        "",
        "Stuck after an email code, by the " + report.by + " it started, and the way in that "
        "got them in; lockouts and voucher clears by the " + report.by + " they happened",
        *_table(
            [when, *STUCK_HEADERS],
            [stuck_row(report.label(b.start), b.figures) for b in rows] + [stuck_row("total", report.total)],
        ),
    ]
    if len(rows) < len(report.buckets):
        out += ["", f"({len(report.buckets) - len(rows)} {report.by}(s) with nothing to count are not shown)"]
    return "\n".join(out)
