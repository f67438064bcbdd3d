"""``verifykit bench soak``: mixed traffic from many clients through a real sidecar, for a bounded time.

It starts ``verifykit serve`` as its own process on the given store (Redis by default), with a
real SMTP server on loopback as its mailer, and drives it from ``--clients`` concurrent
:class:`~verifykit.client.AsyncClient` connections for ``--seconds``:

- email codes: start, read the code from the mail the SMTP server received, check it (sometimes
  after a wrong or malformed code, sometimes replayed); floods of starts to one mailbox;
  checks of unknown and malformed challenge ids;
- passwords: verifies with the right and wrong password, a garbage stored hash, a hash asking for
  64 GiB of argon2 memory, an oversized password;
- faces (when the face extra is installed): genuine and impostor verifies with real photos, and
  garbage, truncated, bomb-header and oversized images, and forged templates.

Every answer is classified: a verdict, or the status of the refusal. The intended ones are
verdicts (a wrong answer is a verdict, not an error), RESOURCE_EXHAUSTED for limits and for the
heavy gate's busy refusals, INVALID_ARGUMENT for hostile input and NOT_FOUND for unknown ids;
anything else (INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, a wrong answer approved, a right one
denied, a code that never arrived) is a finding. Beside the calls it samples the sidecar's RSS and
open file descriptors from ``/proc/<pid>`` and its Prometheus counters, and reports throughput,
p50/p95/p99 per call, outcomes by status and resources over time as a Markdown table and a PNG
plot (``pip install 'verifykit[soak]'``).

Why a driver of our own and not locust: the traffic is gRPC through the typed client, and each
step depends on the last (the code to check is in a mail the driver's own SMTP server received),
so a locust user class would wrap the same AsyncClient calls in gevent, beside an asyncio client
it does not schedule. One asyncio loop runs 64 clients with no threads, measures every call where
it is awaited, and ships in the wheel, so anyone can soak their own sidecar with one command.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import email.policy
import os
import platform
import random
import re
import socket
import struct
import tempfile
import time
import urllib.request
import uuid
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar

from .._errors import BusyError, ConfigurationError, RateLimited, SidecarError, VerifyKitError
from .._samples import sample_photos
from .._verdict import Reason, Verdict
from ..crypto import Keyring
from ..delivery import code_in
from ._report import BenchReport, Progress, percentile

__all__ = ["SoakResult", "add_arguments", "bucket_quantile", "growth", "run", "soak"]

T = TypeVar("T")
MiB = 1024 * 1024
_METRICS_PORT = re.compile(r"metrics on port (\d+)")
_PASSWORD = "soak-Kestrel-violet-harbour-9174"  # noqa: S105 - the soak's own test account
_UNKNOWN_ID = "a" * 26 + "." + "b" * 22  # well formed, never issued
_MALFORMED_IDS = ("", "../../etc/passwd", "x" * 4096, "\x00\x01", "a" * 26 + "." + "!" * 22)
_BAD_CODES = ("12ab56", "", "9" * 64, "\uff11\uff12\uff13\uff14\uff15\uff16", "' OR 1=1 --")
# Busy and limit refusals are told apart: both are RESOURCE_EXHAUSTED on the wire.
BUSY = "RESOURCE_EXHAUSTED (busy)"
LIMITED = "RESOURCE_EXHAUSTED (limit)"
# A request larger than its method accepts (max_request_bytes), refused before it is parsed.
TOO_LARGE = "RESOURCE_EXHAUSTED"
INTENDED_ERRORS = frozenset({BUSY, LIMITED, TOO_LARGE, "INVALID_ARGUMENT", "NOT_FOUND"})


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, default=600.0, help="traffic time (default 600)")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="seconds left out of the goals (default: a tenth of --seconds, at most 60)",
    )
    parser.add_argument("--clients", type=int, default=64, help="concurrent clients (default 64)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="count-bounded instead of --seconds: each client runs this many rounds, every scenario "
        "once a round in an order of its own (the test suite's form: the same work however busy the machine)",
    )
    parser.add_argument("--store", default="redis://127.0.0.1:6379/0", help="the sidecar's store URL")
    parser.add_argument(
        "--faces",
        type=Path,
        default=None,
        help="folder of photos with a manifest.csv (file,identity); default: the packaged sample photos",
    )
    parser.add_argument("--password-preset", default=None, help="argon2id preset (default: the sidecar's)")
    parser.add_argument("--heavy-workers", type=int, default=None, help="the sidecar's heavy_workers")
    parser.add_argument("--heavy-queue", type=int, default=None, help="the sidecar's heavy_queue")
    parser.add_argument(
        "--face-workers",
        choices=("thread", "process"),
        default="process",
        help="the sidecar's face_workers (default process: dlib holds the GIL, and the soak mixes "
        "face work with OTP calls on the same event loop)",
    )
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between resource samples")
    parser.add_argument(
        "--fd-slack",
        type=int,
        default=16,
        help="open descriptors the sidecar may gain after warm-up and still count as "
        "flat (connections to the store and SMTP come and go; default 16)",
    )
    parser.add_argument(
        "--rss-growth",
        type=float,
        default=5.0,
        help="RSS growth after warm-up that still meets the goal, in percent (default 5)",
    )
    parser.add_argument("--markdown", type=Path, default=None, help="write the Markdown report here")
    parser.add_argument("--plot", type=Path, default=None, help="write the PNG plot here")
    parser.add_argument(
        "--doc",
        type=Path,
        default=None,
        help="replace the report between the soak markers of this Markdown file",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed the traffic mix")


# -- what the run collects ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Series:
    ends: list[float] = field(default_factory=list)  # seconds since the start, when each call ended
    ms: list[float] = field(default_factory=list)
    refused: list[bool] = field(default_factory=list)  # refused by a limit or the heavy gate


@dataclass(slots=True)
class Sample:
    t: float
    rss: int  # bytes
    fds: int


@dataclass(slots=True)
class SoakResult:
    """Everything one run measured; :meth:`markdown` and :meth:`plot` render it."""

    seconds: float
    warmup: float
    clients: int
    conditions: dict[str, Any]
    calls: dict[str, _Series] = field(default_factory=dict)
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    findings: Counter[str] = field(default_factory=Counter)
    samples: list[Sample] = field(default_factory=list)
    refusals: dict[str, float] = field(default_factory=dict)  # from the sidecar's own metrics
    codes: dict[str, float] = field(default_factory=dict)
    server_buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    # Impostor photos approved: the matcher's false-match rate at its threshold, not a fault of the
    # sidecar (docs/face.md), so reported beside the outcomes and never counted as a finding.
    false_matches: int = 0
    impostors: int = 0
    fd_slack: int = 16
    rss_goal: float = 5.0

    def record(self, call: str, began: float, ended: float, outcome: str) -> None:
        series = self.calls.setdefault(call, _Series())
        series.ends.append(ended)
        series.ms.append((ended - began) * 1000)
        series.refused.append(outcome in {BUSY, LIMITED})
        self.outcomes[(call, outcome)] += 1

    # -- the figures the goals are about

    def latency(self, call: str) -> dict[str, float]:
        """Of the calls that ended after warm-up: how many, how many were refused (a limit or the
        heavy gate), answered calls per second, and percentiles of the answered ones (a refusal
        takes a round trip, so mixing them in would flatter the figures)."""
        series = self.calls[call]
        after = [
            (ms, refused)
            for end, ms, refused in zip(series.ends, series.ms, series.refused, strict=True)
            if end >= self.warmup
        ]
        kept = [ms for ms, refused in after if not refused]
        span = max(self.seconds - self.warmup, 1e-9)
        figures = {"calls": len(after), "refused": len(after) - len(kept), "per_second": len(kept) / span}
        for p in (50, 95, 99):
            figures[f"p{p}"] = percentile(kept, p) if kept else 0.0
        return figures

    def rss_growth(self) -> float | None:
        """Percent RSS growth from just after warm-up to the end (None: too few samples)."""
        return growth([(s.t, float(s.rss)) for s in self.samples], self.warmup, self.seconds)

    def fd_gain(self) -> int | None:
        """Most descriptors open at the end window minus most open just after warm-up."""
        after = [s for s in self.samples if s.t >= self.warmup]
        if len(after) < 2:
            return None
        window = _window(self.seconds - self.warmup)
        first = [s.fds for s in after if s.t <= self.warmup + window]
        last = [s.fds for s in after if s.t >= self.seconds - window]
        return max(last) - max(first)

    def unintended(self) -> dict[tuple[str, str], int]:
        return {k: n for k, n in self.outcomes.items() if not _is_intended(k[1])}

    def goals(self) -> list[tuple[str, bool | None, str]]:
        """(goal, met or None when not measured, what was measured)."""
        out: list[tuple[str, bool | None, str]] = []
        rss = self.rss_growth()
        out.append(
            (
                f"RSS grows < {self.rss_goal:g} % after warm-up",
                None if rss is None else rss < self.rss_goal,
                "not measured" if rss is None else f"{rss:+.2f} %",
            )
        )
        fds = self.fd_gain()
        out.append(
            (
                f"open descriptors flat (gain <= {self.fd_slack})",
                None if fds is None else fds <= self.fd_slack,
                "not measured" if fds is None else f"{fds:+d}",
            )
        )
        bad = sum(self.unintended().values()) + sum(self.findings.values())
        out.append(("only intended statuses and right verdicts", bad == 0, f"{bad} unintended"))
        for call in ("otp.start", "otp.check"):
            if call in self.calls:
                f = self.latency(call)
                if f["calls"]:
                    ratio = f["p99"] / f["p50"] if f["p50"] else float("inf")
                    out.append((f"{call} p99 <= 3 x p50", ratio <= 3, f"{ratio:.2f} x"))
        return out

    def missed_goals(self) -> list[str]:
        """The goals this run measured and missed, each with what was measured; ``verifykit bench
        soak`` exits 1 when there is one. A goal it could not measure (too few samples) is no miss."""
        return [f"{goal} (measured {measured})" for goal, met, measured in self.goals() if met is False]

    @property
    def invariants_hold(self) -> bool:
        """What holds in any run, short or long: no unintended status or verdict, descriptors flat."""
        fds = self.fd_gain()
        return not self.unintended() and not self.findings and (fds is None or fds <= self.fd_slack)

    # -- rendering

    def markdown(self) -> str:
        c = self.conditions
        lines = [
            f"Run of {self.seconds:.0f} s ({self.warmup:.0f} s warm-up left out of the figures), "
            f"{self.clients} concurrent clients, store {c['store']}, on {c['cpus']} CPU(s) "
            f"(load average {c['load_before']} before, {c.get('load_after', '?')} after), "
            f"{c['when']}. Sidecar: password preset {c['password_preset']}, heavy_workers "
            f"{c['heavy_workers']}, heavy_queue {c['heavy_queue']}, face workers {c['face_workers']}; "
            "the driver and its SMTP server share the machine with it.",
            "",
            "| goal | measured | met |",
            "|---|---|---|",
        ]
        for goal, met, measured in self.goals():
            lines.append(f"| {goal} | {measured} | {'—' if met is None else 'yes' if met else '**no**'} |")
        lines += [
            "",
            "| call | calls | refused | answered/s | p50 ms | p95 ms | p99 ms | p99/p50 |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for call in sorted(self.calls):
            f = self.latency(call)
            ratio = f"{f['p99'] / f['p50']:.1f}" if f["p50"] else "—"
            lines.append(
                f"| {call} | {f['calls']:,} | {f['refused']:,} | {f['per_second']:.1f} | {f['p50']:.1f} | "
                f"{f['p95']:.1f} | {f['p99']:.1f} | {ratio} |"
            )
        lines += ["", "| call | outcome | count | intended |", "|---|---|---:|---|"]
        for (call, outcome), n in sorted(self.outcomes.items()):
            lines.append(f"| {call} | {outcome} | {n:,} | {'yes' if _is_intended(outcome) else '**no**'} |")
        for finding, n in sorted(self.findings.items()):
            lines.append(f"| — | {finding} | {n:,} | **no** |")
        after = [s for s in self.samples if s.t >= self.warmup] or self.samples
        if after:
            lines += [
                "",
                "| sidecar resource | after warm-up | end | peak | change |",
                "|---|---:|---:|---:|---:|",
                f"| RSS (MiB) | {after[0].rss / MiB:.1f} | {after[-1].rss / MiB:.1f} | "
                f"{max(s.rss for s in self.samples) / MiB:.1f} | "
                f"{'—' if self.rss_growth() is None else f'{self.rss_growth():+.2f} %'} |",
                f"| open descriptors | {after[0].fds} | {after[-1].fds} | "
                f"{max(s.fds for s in self.samples)} | "
                f"{'—' if self.fd_gain() is None else f'{self.fd_gain():+d}'} |",
            ]
        if self.server_buckets:
            lines += [
                "",
                "| sidecar's own timing (metrics histogram, whole run) | calls | p50 ≤ ms | p99 ≤ ms |",
                "|---|---:|---:|---:|",
            ]
            for method, buckets in sorted(self.server_buckets.items()):
                total = max(n for _, n in buckets)
                p50, p99 = (bucket_quantile(buckets, q) * 1000 for q in (0.5, 0.99))
                lines.append(f"| {method} | {total:,.0f} | {p50:g} | {p99:g} |")
        if self.refusals:
            lines += ["", "| refusals counted by the sidecar (metrics) | count |", "|---|---:|"]
            for key, count in sorted(self.refusals.items()):
                lines.append(f"| {key} | {count:,.0f} |")
        notes = list(self.notes)
        if self.impostors:
            notes.append(
                f"{self.false_matches} of {self.impostors} impostor face verdicts approved (the matcher's "
                "false-match rate at its threshold, not a status)"
            )
        for note in notes:
            lines += ["", f"Note: {note}"]
        return "\n".join(lines) + "\n"

    def plot(self, path: Path) -> None:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as exc:
            raise ConfigurationError("the soak plot needs matplotlib: pip install 'verifykit[soak]'") from exc
        fig, (ax_rss, ax_fd, ax_rate) = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
        ts = [s.t for s in self.samples]
        ax_rss.plot(ts, [s.rss / MiB for s in self.samples], color="tab:blue")
        ax_rss.set_ylabel("sidecar RSS (MiB)")
        ax_fd.plot(ts, [s.fds for s in self.samples], color="tab:orange")
        ax_fd.set_ylabel("open descriptors")
        step = max(self.seconds / 60, 1.0)
        edges = [i * step for i in range(int(self.seconds / step) + 2)]
        for call in sorted(self.calls):
            counts = Counter(int(end // step) for end in self.calls[call].ends)
            ax_rate.plot(
                [e + step / 2 for e in edges[:-1]],
                [counts.get(i, 0) / step for i in range(len(edges) - 1)],
                label=call,
            )
        ax_rate.set_ylabel("calls/s")
        ax_rate.set_xlabel("seconds since start")
        ax_rate.legend(fontsize="x-small", ncol=3)
        for ax in (ax_rss, ax_fd, ax_rate):
            ax.axvline(self.warmup, color="grey", linestyle="--", linewidth=0.8)
            ax.grid(alpha=0.3)
        fig.suptitle(f"verifykit sidecar soak: {self.clients} clients, {self.seconds:.0f} s (warm-up dashed)")
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=90)
        plt.close(fig)


def _window(span: float) -> float:
    """The stretch at each end that growth is measured between: 5 % of the run, at least 5 s."""
    return max(5.0, span * 0.05)


def growth(points: Iterable[tuple[float, float]], warmup: float, end: float) -> float | None:
    """Percent change from the mean just after ``warmup`` to the mean at ``end``.

    Means over a window at each end (:func:`_window`), so one garbage-collection swing does not
    decide the figure. None when either window has no sample.
    """
    after = [(t, v) for t, v in points if t >= warmup]
    window = _window(end - warmup)
    first = [v for t, v in after if t <= warmup + window]
    last = [v for t, v in after if t >= end - window]
    if not first or not last or len(after) < 2:
        return None
    start = sum(first) / len(first)
    return (sum(last) / len(last) - start) / start * 100


def _is_intended(outcome: str) -> bool:
    return outcome == "ok" or outcome.startswith("verdict ") or outcome in INTENDED_ERRORS


def _outcome(exc: BaseException) -> str:
    """The status a failed call ended with, as a client sees it."""
    if isinstance(exc, BusyError):
        return BUSY
    if isinstance(exc, RateLimited):
        return LIMITED
    if isinstance(exc, SidecarError):
        return exc.status or "UNKNOWN"
    if isinstance(exc, VerifyKitError):
        from .._wire import status_for

        return str(status_for(exc).code.name)
    return f"client exception {type(exc).__name__}"


# -- the mail side -----------------------------------------------------------------------------------


class _Mailbox:
    """An aiosmtpd handler on its own thread: hands each code to the task waiting for that address."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self.received = 0
        self.unclaimed = 0

    def expect(self, address: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = self._loop.create_future()
        self._waiting[address] = future
        return future

    def forget(self, address: str) -> None:
        self._waiting.pop(address, None)

    def _deliver(self, addresses: list[str], code: str) -> None:
        self.received += 1
        for address in addresses:
            future = self._waiting.pop(address, None)
            if future is None or future.done():
                self.unclaimed += 1
            else:
                future.set_result(code)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = BytesParser(policy=email.policy.default).parsebytes(bytes(envelope.content))
        if not isinstance(parsed, EmailMessage):
            return "554 unreadable message"
        code = code_in(parsed)
        self._loop.call_soon_threadsafe(self._deliver, list(envelope.rcpt_tos), code)
        return "250 Message accepted"


# -- photos ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Photos:
    by_identity: dict[str, list[bytes]]

    @classmethod
    def load(cls, folder: Path | None) -> _Photos:
        found: dict[str, list[bytes]] = {}
        if folder is None:
            for entry in sample_photos().iterdir():
                if entry.name.endswith((".jpg", ".png")):
                    found.setdefault(entry.name.rsplit(".", 1)[0], []).append(entry.read_bytes())
            return cls(found)
        with (folder / "manifest.csv").open(newline="") as handle:
            for row in csv.DictReader(handle):
                if not row["identity"].startswith("__"):
                    found.setdefault(row["identity"], []).append((folder / row["file"]).read_bytes())
        return cls(found)


def _hostile_images(real: bytes) -> list[bytes]:
    """Garbage, a truncated photo, a PNG whose header claims 60000 x 60000, and 15.5 MiB of noise."""
    ihdr = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    bomb = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + b"IHDR"
        + ihdr
        + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
        + b"\x00" * 64
    )
    return [os.urandom(2048), real[: len(real) // 2], bomb, b"\xff\xd8\xff" + os.urandom(15 * MiB + MiB // 2)]


# -- the traffic -------------------------------------------------------------------------------------


class _Driver:
    def __init__(
        self, result: SoakResult, target: str, mailbox: _Mailbox, photos: _Photos | None, rng: random.Random
    ) -> None:
        self.result = result
        self.target = target
        self.mailbox = mailbox
        self.photos = photos
        self.rng = rng
        self.run_id = uuid.uuid4().hex[:8]
        self.began = time.perf_counter()
        self.deadline = self.began + result.seconds
        self.stored_hash = ""
        self.templates: list[tuple[str, str, bytes]] = []  # (identity, subject, sealed template)
        self.hostile_images: list[bytes] = []
        self.serial = 0
        self.rounds: int | None = None  # count-bounded: rounds per client instead of a deadline

    def _now(self) -> float:
        return time.perf_counter() - self.began

    async def call(self, call: str, work: Awaitable[T], allowed: frozenset[str] | None = None) -> T | None:
        """Await ``work``, time it and classify its outcome; None when it raised.

        ``allowed`` narrows the intended error statuses for this step (None: every intended one).
        """
        began = self._now()
        try:
            value = await work
        except Exception as exc:
            outcome = _outcome(exc)
            self.result.record(call, began, self._now(), outcome)
            if _is_intended(outcome) and allowed is not None and outcome not in allowed:
                self.result.findings[f"{call}: {outcome} where only {sorted(allowed)} fit"] += 1
            return None
        label = f"verdict {value.reason.value}" if isinstance(value, Verdict) else "ok"
        self.result.record(call, began, self._now(), label)
        return value

    def _flag(self, finding: str) -> None:
        self.result.findings[finding] += 1

    # -- scenarios

    async def otp_flow(self, client: Any) -> None:
        self.serial += 1
        address = f"soak-{self.run_id}-{self.serial}@example.com"
        code_arrived = self.mailbox.expect(address)
        challenge = await self.call(
            "otp.start",
            client.email_otp.start(f"soak-{self.run_id}-{self.serial}", address),
            frozenset({LIMITED}),
        )
        if challenge is None:
            self.mailbox.forget(address)
            return
        try:
            code = await asyncio.wait_for(code_arrived, timeout=30)
        except TimeoutError:
            self._flag("otp: a started challenge's code never arrived by SMTP within 30 s")
            return
        roll = self.rng.random()
        if roll < 0.2:
            wrong = f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"
            verdict = await self.call("otp.check", client.email_otp.check(challenge.id, wrong), frozenset())
            if verdict is not None and verdict.approved:
                self._flag("otp: a wrong code approved")
        elif roll < 0.3:
            bad = self.rng.choice(_BAD_CODES)
            verdict = await self.call(
                "otp.check (hostile)",
                client.email_otp.check(challenge.id, bad),
                frozenset({"INVALID_ARGUMENT"}),
            )
            if verdict is not None and verdict.approved:
                self._flag("otp: a malformed code approved")
        verdict = await self.call("otp.check", client.email_otp.check(challenge.id, code), frozenset())
        if verdict is not None and not verdict.approved:
            self._flag(f"otp: the right code denied ({verdict.reason.value})")
        if self.rng.random() < 0.1:
            replay = await self.call("otp.check", client.email_otp.check(challenge.id, code), frozenset())
            if replay is not None and replay.reason is not Reason.REPLAYED:
                self._flag(f"otp: a replayed code answered {replay.reason.value}")

    async def otp_hostile(self, client: Any, index: int) -> None:
        roll = self.rng.random()
        if roll < 0.4:
            await self.call(
                "otp.check (hostile)", client.email_otp.check(_UNKNOWN_ID, "123456"), frozenset({"NOT_FOUND"})
            )
        elif roll < 0.8:
            await self.call(
                "otp.check (hostile)",
                client.email_otp.check(self.rng.choice(_MALFORMED_IDS), "123456"),
                frozenset({"INVALID_ARGUMENT", "NOT_FOUND"}),
            )
        else:
            # One mailbox flooded with starts: the send limits answer.
            address = f"soak-flood-{self.run_id}-{index % 4}@example.com"
            await self.call(
                "otp.start (flood)",
                client.email_otp.start(f"soak-flood-{self.run_id}-{index}", address),
                frozenset({LIMITED}),
            )

    async def password(self, client: Any, index: int) -> None:
        subject = f"soak-pw-{self.run_id}-{index}-{self.rng.randrange(4)}"
        roll = self.rng.random()
        heavy = frozenset({BUSY, LIMITED})
        if roll < 0.7:
            verdict = await self.call(
                "password.verify", client.password.verify(subject, self.stored_hash, _PASSWORD), heavy
            )
            if verdict is not None and not verdict.approved:
                self._flag(f"password: the right password denied ({verdict.reason.value})")
        elif roll < 0.9:
            verdict = await self.call(
                "password.verify", client.password.verify(subject, self.stored_hash, _PASSWORD + "x"), heavy
            )
            if verdict is not None and verdict.approved:
                self._flag("password: a wrong password approved")
        else:
            stored, password = self.rng.choice(
                [
                    ("not-a-hash", _PASSWORD),
                    ("$argon2id$v=19$m=67108864,t=1,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43, _PASSWORD),
                    (self.stored_hash, "p" * (1 << 20)),
                ]
            )
            verdict = await self.call(
                "password.verify (hostile)",
                client.password.verify(subject, stored, password),
                heavy | {"INVALID_ARGUMENT", TOO_LARGE},
            )
            if verdict is not None and verdict.approved:
                self._flag("password: a hostile input approved")

    async def face(self, client: Any) -> None:
        assert self.photos is not None
        identity, subject, template = self.rng.choice(self.templates)
        roll = self.rng.random()
        heavy = frozenset({BUSY, LIMITED})
        if roll < 0.45:
            image = self.rng.choice(self.photos.by_identity[identity])
            await self.call("face.verify", client.face.verify(subject, template, image), heavy)
        elif roll < 0.75:
            others = [i for i in self.photos.by_identity if i != identity]
            image = self.rng.choice(self.photos.by_identity[self.rng.choice(others)])
            verdict = await self.call("face.verify", client.face.verify(subject, template, image), heavy)
            if verdict is not None and verdict.reason in {Reason.APPROVED, Reason.MISMATCH}:
                self.result.impostors += 1
                self.result.false_matches += verdict.approved
        elif roll < 0.95:
            image = self.rng.choice(self.hostile_images)
            verdict = await self.call(
                "face.verify (hostile)",
                client.face.verify(subject, template, image),
                heavy | {"INVALID_ARGUMENT"},
            )
            if verdict is not None and verdict.approved:
                self._flag("face: a hostile image approved")
        else:
            image = self.rng.choice(self.photos.by_identity[identity])
            forged = os.urandom(len(template))
            verdict = await self.call(
                "face.verify (hostile)",
                client.face.verify(subject, forged, image),
                heavy | {"INVALID_ARGUMENT"},
            )
            if verdict is not None and verdict.approved:
                self._flag("face: a forged template approved")

    async def client_loop(self, index: int) -> None:
        from ..client import AsyncClient

        scenarios: list[tuple[float, Callable[[Any], Awaitable[None]]]] = [
            (0.55, self.otp_flow),
            (0.15, lambda c: self.otp_hostile(c, index)),
            (0.2, lambda c: self.password(c, index)),
        ]
        if self.templates:
            scenarios.append((0.1, self.face))
        weights = [w for w, _ in scenarios]
        async with AsyncClient(self.target, timeout=30) as client:
            if self.rounds is not None:
                for _ in range(self.rounds):
                    for _, scenario in self.rng.sample(scenarios, len(scenarios)):
                        await scenario(client)
                return
            while time.perf_counter() < self.deadline:
                ((_, scenario),) = self.rng.choices(scenarios, weights)
                await scenario(client)

    async def run(self, pid: int, interval: float, progress: Progress) -> None:
        """Set up, then drive every client until the deadline while sampling ``pid``."""
        await self.set_up(progress)
        if self.photos is not None and not self.templates:
            self.result.notes.append("face traffic skipped: no photo enrolled")
        self.began = time.perf_counter()
        self.deadline = self.began + self.result.seconds
        stop = asyncio.Event()
        sampler = asyncio.create_task(_sample(self.result, pid, self.began, interval, stop))
        progress.stage(f"traffic from {self.result.clients} clients", int(self.result.seconds))
        ticker = asyncio.create_task(_tick(progress, self.deadline))
        try:
            await asyncio.gather(*(self.client_loop(i) for i in range(self.result.clients)))
            if self.rounds is not None:
                self.result.seconds = self._now()  # the run took what its rounds took
        finally:
            stop.set()
            ticker.cancel()
            await sampler

    async def set_up(self, progress: Progress) -> None:
        from ..client import AsyncClient

        async with AsyncClient(self.target, timeout=120) as client:
            await client.wait_ready(30)
            self.stored_hash = await client.password.hash(_PASSWORD)
            if self.photos is None:
                return
            progress.stage("enrol faces", len(self.photos.by_identity))
            for identity, images in sorted(self.photos.by_identity.items()):
                subject = f"soak-face-{self.run_id}-{len(self.templates)}"
                enrollment = await client.face.enroll(subject, images[0])
                if enrollment.approved and enrollment.stored:
                    self.templates.append((identity, subject, enrollment.stored))
                progress.step()
            if self.templates:
                self.hostile_images = _hostile_images(self.photos.by_identity[self.templates[0][0]][0])


# -- sampling the sidecar ----------------------------------------------------------------------------


def _rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with suppress(OSError), open(f"/proc/{pid}/task/{task}/children") as listed:
            found += [int(child) for child in listed.read().split()]
    return found


def _read_proc(pid: int) -> tuple[int, int] | None:
    """(RSS bytes of ``pid`` and its face worker processes, open descriptors of ``pid``) from /proc;
    None where /proc has neither."""
    try:
        rss = _rss(pid)
        for child in _children(pid):
            with suppress(OSError, StopIteration):
                rss += _rss(child)
        return rss, len(os.listdir(f"/proc/{pid}/fd"))
    except (OSError, StopIteration):
        return None


@dataclass(slots=True)
class _Scraped:
    refusals: dict[str, float] = field(default_factory=dict)  # "method reason" -> count
    codes: dict[str, float] = field(default_factory=dict)  # status code -> count
    buckets: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # method -> (le, count)


def _scrape(port: int) -> _Scraped:
    """The sidecar's refusals by method and reason, its calls by status code, and its latency
    histogram by method."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    out = _Scraped()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "verifykit_rate_limit_refusals_total":
                out.refusals[f"{labels['method']} {labels['reason']}"] = sample.value
            elif sample.name == "verifykit_grpc_calls_total":
                out.codes[labels["code"]] = out.codes.get(labels["code"], 0.0) + sample.value
            elif sample.name == "verifykit_grpc_call_duration_seconds_bucket":
                out.buckets.setdefault(labels["method"], []).append((float(labels["le"]), sample.value))
    return out


def bucket_quantile(buckets: list[tuple[float, float]], q: float) -> float:
    """The upper bound of the histogram bucket holding quantile ``q`` (0-1): a ceiling, not a point."""
    ordered = sorted(buckets)
    total = ordered[-1][1] if ordered else 0.0
    for bound, cumulative in ordered:
        if total and cumulative >= q * total:
            return bound
    return float("inf")


async def _sample(result: SoakResult, pid: int, began: float, interval: float, stop: asyncio.Event) -> None:
    while True:
        found = _read_proc(pid)
        if found is not None:
            result.samples.append(Sample(time.perf_counter() - began, *found))
        try:
            await asyncio.wait_for(stop.wait(), interval)
            return
        except TimeoutError:
            continue


# -- the run -----------------------------------------------------------------------------------------


def _face_available() -> str | None:
    """Why face traffic cannot run here, or None when it can."""
    from ..face import require_installed

    try:
        require_installed()
    except ConfigurationError as exc:
        return f"face traffic skipped: {exc}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _purge(store: str, namespace: str) -> None:
    """Drop the run's keys from a single Redis server (lockouts would otherwise outlive it)."""
    if not store.startswith(("redis://", "rediss://")):
        return
    import redis

    client = redis.Redis.from_url(store)
    try:
        keys = list(client.scan_iter(match=f"*{namespace}*", count=10_000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    finally:
        client.close()


def _conditions(args: argparse.Namespace) -> dict[str, Any]:
    from ..server import ServerConfig

    heavy = args.heavy_workers or ServerConfig().heavy_worker_count
    return {
        "store": args.store.split("@")[-1],
        "cpus": os.cpu_count(),
        "load_before": _load_average(),
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "python": platform.python_version(),
        "password_preset": args.password_preset or "default",
        "heavy_workers": heavy,
        "heavy_queue": args.heavy_queue if args.heavy_queue is not None else 2 * heavy,
        "face_workers": args.face_workers,
    }


def _sidecar_flags(args: argparse.Namespace, namespace: str) -> list[str]:
    # One server process: the soak samples it and its face workers in /proc.
    flags = ["--namespace", namespace, "--metrics-port", "0", "--face-workers", args.face_workers]
    flags += ["--processes", "1"]
    if args.password_preset:
        flags += ["--password-preset", args.password_preset]
    if args.heavy_workers:
        flags += ["--heavy-workers", str(args.heavy_workers)]
    if args.heavy_queue is not None:
        flags += ["--heavy-queue", str(args.heavy_queue)]
    return flags


def _photos(args: argparse.Namespace, result: SoakResult) -> _Photos | None:
    """The photos for face traffic, or None with a one-line note saying why there is none."""
    reason = _face_available()
    photos = None
    if reason is None:
        photos = _Photos.load(args.faces)
        if len(photos.by_identity) < 2:
            reason, photos = "face traffic skipped: fewer than two identities in the photos", None
    if reason is not None:
        result.notes.append(reason)
        print(reason)
    return photos


def soak(args: argparse.Namespace, progress: Progress | None = None) -> SoakResult:
    """Run the soak that ``args`` describe and return what it measured (writes nothing)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError as exc:
        raise ConfigurationError("the soak needs aiosmtpd: pip install 'verifykit[soak]'") from exc

    progress = progress or Progress(enabled=False)
    result = SoakResult(
        seconds=args.seconds,
        warmup=args.warmup if args.warmup is not None else min(60.0, args.seconds / 10),
        clients=args.clients,
        fd_slack=args.fd_slack,
        rss_goal=args.rss_growth,
        conditions=_conditions(args),
    )
    photos = _photos(args, result)
    namespace = f"soak{uuid.uuid4().hex[:10]}"
    rng = random.Random(args.seed)  # noqa: S311 - a traffic mix, not a secret
    with tempfile.TemporaryDirectory(prefix="verifykit-soak-") as tmp:
        loop = asyncio.new_event_loop()
        mailbox = _Mailbox(loop)
        smtp = Controller(mailbox, hostname="127.0.0.1", port=_free_port())
        smtp.start()
        try:
            progress.stage("start the sidecar", 1)
            from ..server import SidecarProcess  # here: `verifykit bench` imports this module for its options

            sidecar = SidecarProcess(
                _sidecar_flags(args, namespace),
                Path(tmp) / "sidecar.log",
                env={
                    "VERIFYKIT_KEYS": Keyring.new_keyring_string("soak"),  # by variable, never argv
                    "VERIFYKIT_STORE": args.store,
                    "VERIFYKIT_MAILER": f"smtp://127.0.0.1:{smtp.port}?security=none",
                },
                timeout=120,
            )
            progress.step()
            try:
                driver = _Driver(result, sidecar.target, mailbox, photos, rng)
                driver.rounds = args.rounds
                loop.run_until_complete(driver.run(sidecar.proc.pid, args.interval, progress))
                found = _METRICS_PORT.search(sidecar.log.read_text(errors="replace"))
                if found:
                    scraped = _scrape(int(found.group(1)))
                    result.refusals, result.codes = scraped.refusals, scraped.codes
                    result.server_buckets = scraped.buckets
            finally:
                status = sidecar.stop()
                if status != 0:
                    result.findings[f"sidecar exited with status {status} after SIGTERM"] += 1
        finally:
            smtp.stop()
            loop.close()
            _purge(args.store, namespace)
    if mailbox.unclaimed:
        result.notes.append(f"{mailbox.unclaimed} mails went to flooded mailboxes before their limit")
    result.conditions["load_after"] = _load_average()
    return result


async def _tick(progress: Progress, deadline: float) -> None:
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        progress.step()


def replace_section(document: str, report: str) -> str:
    """``document`` with the text between the soak markers replaced by ``report``."""
    begin, end = "<!-- soak:begin -->", "<!-- soak:end -->"
    head, found, rest = document.partition(begin)
    if not found or end not in rest:
        raise ConfigurationError(f"the document has no {begin} … {end} markers")
    return head + begin + "\n" + report + rest[rest.index(end) :]


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    result = soak(args, progress)
    report = BenchReport("soak")
    for call in sorted(result.calls):
        f = result.latency(call)
        report.add(f"{call} p50", "ms", f["p50"])
        baseline = 3 * f["p50"] if call.startswith("otp.") else None
        report.add(f"{call} p99{' (baseline: 3 x p50)' if baseline else ''}", "ms", f["p99"], baseline)
    markdown = result.markdown()
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown)
    if args.doc is not None:
        args.doc.write_text(replace_section(args.doc.read_text(), markdown))
    if args.plot is not None:
        result.plot(args.plot)
    report.extra["goals"] = {
        goal: {"measured": measured, "met": met} for goal, met, measured in result.goals()
    }
    report.extra["calls_per_second"] = {
        c: round(result.latency(c)["per_second"], 1) for c in sorted(result.calls)
    }
    report.extra["outcomes"] = {f"{c} {o}": n for (c, o), n in sorted(result.outcomes.items())}
    report.extra["findings"] = dict(result.findings)
    report.extra["face_false_matches"] = f"{result.false_matches} of {result.impostors}"
    report.extra["refusals"] = result.refusals
    report.extra["conditions"] = result.conditions
    report.extra["invariants_hold"] = result.invariants_hold
    report.missed = result.missed_goals()
    return report
