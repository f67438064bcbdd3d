"""``verifykit bench grpc``: what the sidecar adds to a call.

In one run: the same library call in-process, the call through a sidecar (``verifykit serve``
as its own process, access log on, as deployed), and the standard health ``Check`` to that
sidecar as the trivial gRPC call. p50/p99 latency with 1 client and with 32 concurrent
clients, and calls per second.

With ``--processes 1,2``, instead: the calls a deployer sizes for (email-code start and check,
TOTP verify, password verify, face verify) per second through sidecars of one and of two server
processes, on the same shared ``--store``. With ``--client-counts 1,4,16,32``, instead: p50, p90
and p99 latency of email-code checks and password verifies at each number of concurrent clients.
Both leave the series they measured in the report (``by_processes``, ``by_clients``), which
``--plot`` draws (:mod:`verifykit.bench._plots`).

Goals (docs/sidecar.md): an OTP check through the sidecar costs at most the trivial call plus
the in-process check plus 0.2 ms at p50 (the case's baseline is that budget, so ratio <= 1
meets it), and p99 stays under 3x p50 with 32 clients (baseline 3 x p50).
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..crypto import Keyring
from ..delivery import Outbox
from ..otp import EmailOTP, OTPSettings
from ..store import WindowPolicy, open_store
from ._report import BenchReport, Goal, Progress, percentile

if TYPE_CHECKING:
    from ..server import SidecarProcess

__all__ = ["add_arguments", "run"]

_WRONG = "000000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=2000, help="calls per measurement (default 2000)")
    parser.add_argument(
        "--store", default="memory://", help="store URL for the sidecar and the in-process baseline"
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument(
        "--password-n", type=int, default=64, help="password verifies per measurement (default 64)"
    )
    parser.add_argument("--face-n", type=int, default=24, help="face verifies per measurement (default 24)")
    parser.add_argument(
        "--password-preset",
        default="owasp_minimum",
        help="argon2id preset for the password cases (default owasp_minimum)",
    )
    parser.add_argument(
        "--processes",
        default=None,
        metavar="N,M",
        help="instead, compare sidecars of N and M server processes (a shared --store): email-code "
        "starts and checks, TOTP, password and face verifies per second at --clients clients (face: "
        "--face-clients), each on a connection of its own",
    )
    parser.add_argument(
        "--client-counts",
        default=None,
        metavar="A,B,…",
        help="instead, p50/p90/p99 latency of email-code checks and password verifies through one "
        "sidecar at each of these numbers of concurrent clients",
    )
    parser.add_argument(
        "--face-clients",
        type=int,
        default=8,
        help="concurrent face clients with --processes (default 8), drawing from one queue of verifies",
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=None,
        help="the faces folder whose manifest.csv names the photos --processes verifies "
        "(default: as bench face finds it; else the two sample photos that ship with verifykit)",
    )


@dataclass(frozen=True, slots=True)
class Timing:
    samples: list[float]  # ms per call
    wall: float  # seconds for all calls

    @property
    def p50(self) -> float:
        return percentile(self.samples, 50)

    @property
    def p99(self) -> float:
        return percentile(self.samples, 99)

    @property
    def per_second(self) -> float:
        return len(self.samples) / self.wall


def _timed(calls: Sequence[Callable[[], object]]) -> Timing:
    samples: list[float] = []
    began = time.perf_counter()
    for call in calls:
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return Timing(samples, time.perf_counter() - began)


def _together(results: list[list[float]], work: Callable[[int, list[float]], None]) -> Timing:
    """``work(index, samples)`` on a thread per entry of ``results``, all started together; the
    samples of every thread and the time from the start to the last one's end."""
    gate = threading.Barrier(len(results) + 1)

    def run(index: int) -> None:
        gate.wait()
        work(index, results[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Timing([s for r in results for s in r], time.perf_counter() - began)


def _concurrently(per_client: Sequence[Sequence[Callable[[], object]]]) -> Timing:
    """Each inner sequence runs on its own thread; all start together."""

    def work(index: int, out: list[float]) -> None:
        for call in per_client[index]:
            t0 = time.perf_counter()
            call()
            out.append((time.perf_counter() - t0) * 1000)

    return _together([[] for _ in per_client], work)


def _drawing(clients: Sequence[Callable[[int], object]], total: int) -> Timing:
    """``total`` calls from one queue: each client (a thread of its own, all starting together)
    makes call number ``i`` with ``clients[c](i)`` until the queue is empty. Unlike fixed shares, a
    server process that got fewer connections from the kernel still stays busy to the end."""
    queue: Iterator[int] = iter(range(total))
    lock = threading.Lock()

    def work(index: int, out: list[float]) -> None:
        call = clients[index]
        while True:
            with lock:
                job = next(queue, None)
            if job is None:
                return
            t0 = time.perf_counter()
            call(job)
            out.append((time.perf_counter() - t0) * 1000)

    return _together([[] for _ in clients], work)


def _wide_limits() -> OTPSettings:
    # The bench measures calls, not limits: make the send limits wide enough never to trip.
    wide = WindowPolicy(limit=10**9, window=1)
    return OTPSettings(destination_limit=wide, subject_limit=wide)


def _sidecar(
    args: argparse.Namespace, keys: str, workdir: Path, processes: int = 1, clients: int | None = None
) -> SidecarProcess:
    # Here, not at the top: every `verifykit bench` command imports this module for its options,
    # and the sidecar package brings gRPC.
    from ..server import SidecarProcess

    return SidecarProcess(
        [
            "--namespace", f"bench{uuid.uuid4().hex[:8]}",
            "--mailer", f"file:{workdir / 'mail'}",
            "--insecure-dev-mailer",  # a measuring setup, whatever the store
            "--no-audit-log",
            "--workers", str(2 * (clients or args.clients) + 16),
            "--heavy-queue", str(clients or args.clients),
            "--password-preset", args.password_preset,
            "--processes", str(processes),
        ],
        workdir / "sidecar.log",
        env={"VERIFYKIT_KEYS": keys, "VERIFYKIT_STORE": args.store},  # secrets by variable, not argv
    )  # fmt: skip


def _otp_cases(args: argparse.Namespace, progress: Progress, target: str, keyring: Keyring) -> dict[str, Any]:
    from ..client import Client

    n, clients = args.n, args.clients
    out: dict[str, Any] = {}

    # In-process: the library call on the same kind of store.
    store = open_store(args.store, namespace=f"bench{uuid.uuid4().hex[:8]}")
    try:
        otp = EmailOTP(store=store, keyring=keyring, mailer=Outbox(), settings=_wide_limits(), audit=None)
        progress.stage("otp: start challenges in-process", n)
        ids = []
        for i in range(n):
            ids.append(otp.start(f"bench-{i}", f"bench{i}@example.com").id)
            progress.step()
        out["inproc"] = _timed([partial(otp.check, c, _WRONG) for c in ids])
    finally:
        store.close()

    with Client(target, timeout=30) as client:
        progress.stage("otp: start challenges via the sidecar", 2 * n)
        remote = []
        for i in range(2 * n):
            remote.append(client.email_otp.start(f"bench-{i}", f"bench{i}@example.com").id)
            progress.step()
        progress.stage("health and otp check, 1 client", 2)
        out["health_1"] = _timed([client.health] * n)
        progress.step()
        out["otp_1"] = _timed([partial(client.email_otp.check, c, _WRONG) for c in remote[:n]])
        progress.step()

    progress.stage(f"health and otp check, {clients} clients", 2)
    channels = [Client(target, timeout=30) for _ in range(clients)]
    try:
        share = max(n // clients, 1)
        out["health_n"] = _concurrently([[c.health] * share for c in channels])
        progress.step()
        chunks = [remote[n + i * share : n + (i + 1) * share] for i in range(clients)]
        out["otp_n"] = _concurrently(
            [
                [partial(c.email_otp.check, cid, _WRONG) for cid in chunk]
                for c, chunk in zip(channels, chunks, strict=True)
            ]
        )
        progress.step()
    finally:
        for channel in channels:
            channel.close()
    return out


def _password_cases(
    args: argparse.Namespace, progress: Progress, target: str, keyring: Keyring
) -> dict[str, Timing]:
    from ..client import Client
    from ..password import PasswordSettings, PasswordVerifier

    n, clients, secret = args.password_n, args.clients, "correct horse battery staple"
    out: dict[str, Timing] = {}
    store = open_store(args.store, namespace=f"bench{uuid.uuid4().hex[:8]}")
    try:
        settings = PasswordSettings(preset=args.password_preset)
        verifier = PasswordVerifier(store=store, keyring=keyring, settings=settings, audit=None)
        stored = verifier.hash(secret)
        progress.stage("password verify in-process", 1)
        out["inproc"] = _timed([partial(verifier.verify, "bench-user", stored, secret)] * n)
        progress.step()
    finally:
        store.close()
    progress.stage(f"password verify via the sidecar, 1 and {clients} clients", 2)
    with Client(target, timeout=120) as client:
        out["one"] = _timed([partial(client.password.verify, "bench-user", stored, secret)] * n)
    progress.step()
    channels = [Client(target, timeout=120) for _ in range(clients)]
    try:
        share = max(n // clients, 1)
        out["many"] = _concurrently(
            [
                [partial(c.password.verify, f"bench-user-{i}", stored, secret)] * share
                for i, c in enumerate(channels)
            ]
        )
    finally:
        for channel in channels:
            channel.close()
    progress.step()
    return out


def _face_cases(args: argparse.Namespace, progress: Progress, target: str) -> dict[str, Timing]:
    """Face verifies through the sidecar (its default face workers, one per core) with 1, 2 and 4
    clients calling at once: with the work in worker processes, throughput grows with callers
    until every core is busy."""
    from .._samples import sample_photos
    from ..client import Client

    photo = (sample_photos() / "eileen_collins.jpg").read_bytes()
    n = args.face_n
    out: dict[str, Timing] = {}
    with Client(target, timeout=120) as client:
        stored = client.face.enroll("bench-face", photo).stored
        if stored is None:
            raise RuntimeError("the sample photo did not enrol")
        progress.stage("face verify via the sidecar, 1, 2 and 4 clients", 3)
        for clients in (1, 2, 4):
            channels = [Client(target, timeout=120) for _ in range(clients)]
            try:
                share = max(n // clients, 1)
                for c in channels:
                    c.face.verify("bench-face", stored, photo)  # warm the channel
                out[f"face_{clients}"] = _concurrently(
                    [[partial(c.face.verify, "bench-face", stored, photo)] * share for c in channels]
                )
            finally:
                for channel in channels:
                    channel.close()
            progress.step()
    return out


def _own_connection(target: str) -> Any:
    """A client with a connection of its own (gRPC shares one per target within a process), so
    that the kernel spreads the clients over a sidecar's server processes."""
    from ..client import Client

    client = Client(target, timeout=120)
    client.close()
    client.options.append(("grpc.use_local_subchannel_pool", 1))
    client._connect()
    return client


# What a deployer sizes for, in the order measured; the keys of by_processes and by_clients.
CALLS = {
    "otp_start": "email-code start",
    "otp_check": "email-code check",
    "totp_verify": "TOTP verify",
    "password_verify": "password verify",
    "face_verify": "face verify",
}
_FACE_PHOTOS = 6  # distinct photos the face clients take turns with


def _connections(target: str, count: int) -> list[Any]:
    return [_own_connection(target) for _ in range(count)]


def _close(channels: Sequence[Any]) -> None:
    for channel in channels:
        channel.close()


def _otp_calls(args: argparse.Namespace, channels: Sequence[Any]) -> dict[str, Timing]:
    """Email-code starts, then a wrong code checked once on each challenge started."""
    share = max(args.n // len(channels), 1)
    ids: list[list[str]] = [[] for _ in channels]

    def start(client: Any, out: list[str], i: int, j: int) -> None:
        out.append(client.email_otp.start(f"bench-{i}-{j}", f"bench{i}-{j}@example.com").id)

    starts = _concurrently(
        [[partial(start, c, ids[i], i, j) for j in range(share)] for i, c in enumerate(channels)]
    )
    checks = _concurrently(
        [
            [partial(c.email_otp.check, cid, _WRONG) for cid in chunk]
            for c, chunk in zip(channels, ids, strict=True)
        ]
    )
    return {"otp_start": starts, "otp_check": checks}


def _totp_calls(args: argparse.Namespace, channels: Sequence[Any]) -> Timing:
    """A wrong code verified once for each of fresh authenticator enrolments (one per subject, so no
    lockout builds up)."""
    share = max(args.n // len(channels), 1)
    enrolled = [[(f"bench-totp-{i}-{j}", c.totp.enroll(f"bench-totp-{i}-{j}", "bench").stored)
                 for j in range(share)] for i, c in enumerate(channels)]  # fmt: skip
    return _concurrently(
        [[partial(c.totp.verify, subject, stored, _WRONG) for subject, stored in mine]
         for c, mine in zip(channels, enrolled, strict=True)]
    )  # fmt: skip


def _password_calls(args: argparse.Namespace, channels: Sequence[Any]) -> Timing:
    """Right passwords verified against one hash the sidecar made (its preset, its pepper)."""
    verifies, secret = max(args.password_n // len(channels), 1), "correct horse battery staple"
    stored = channels[0].password.hash(secret)
    return _concurrently(
        [[partial(c.password.verify, f"bench-user-{i}", stored, secret)] * verifies
         for i, c in enumerate(channels)]
    )  # fmt: skip


def _face_photos(args: argparse.Namespace) -> tuple[list[bytes], str]:
    """Photos for the face verifies, read where they lie, and where they came from: the faces data
    named in its manifest.csv (one photo per identity), else the sample photos of the package."""
    from .._errors import ConfigurationError
    from .._samples import sample_photos
    from ._face import _data_dir

    try:
        folder = _data_dir(args)
    except ConfigurationError:
        samples = sorted((p for p in sample_photos().iterdir() if p.name.endswith(".jpg")), key=str)
        return [path.read_bytes() for path in samples], "the sample photos that ship with verifykit"
    with (folder / "manifest.csv").open(newline="") as f:
        rows = [
            row for row in csv.DictReader(f) if not row["identity"].startswith("__")
        ]  # no face, several faces
    first_of_each = {row["identity"]: row["file"] for row in reversed(rows)}
    names = sorted(first_of_each.values())[: 3 * _FACE_PHOTOS]
    return [(folder / name).read_bytes() for name in names], f"{folder.name}/manifest.csv"


def _verify_face(client: Any, jobs: Sequence[tuple[str, bytes, bytes]], i: int) -> object:
    return client.face.verify(*jobs[i % len(jobs)])


def _face_calls(args: argparse.Namespace, target: str, photos: Sequence[bytes]) -> Timing:
    """Face verifies drawn from one queue by ``--face-clients`` clients, each on its own connection,
    against templates enrolled from ``photos`` (those that enrol, up to six)."""
    channels = _connections(target, max(args.face_clients, 1))
    try:
        jobs: list[tuple[str, bytes, bytes]] = []
        for photo in photos:
            subject = f"bench-face-{len(jobs)}"
            stored = channels[0].face.enroll(subject, photo).stored
            if stored is not None:
                jobs.append((subject, stored, photo))
            if len(jobs) == _FACE_PHOTOS:
                break
        if not jobs:
            raise RuntimeError("no bench photo enrolled")
        for n, c in enumerate(channels):  # warm every connection and every face worker
            c.face.verify(*jobs[n % len(jobs)])
        return _drawing([partial(_verify_face, c, jobs) for c in channels], args.face_n)
    finally:
        _close(channels)


def _process_cases(
    args: argparse.Namespace, progress: Progress, target: str, photos: Sequence[bytes]
) -> dict[str, Timing]:
    """Every call of CALLS per second through one sidecar, each client on its own connection."""
    channels = _connections(target, args.clients)
    try:
        out = _otp_calls(args, channels)
        progress.step()
        out["totp_verify"] = _totp_calls(args, channels)
        progress.step()
        out["password_verify"] = _password_calls(args, channels)
        progress.step()
    finally:
        _close(channels)
    if args.face_n > 0:
        out["face_verify"] = _face_calls(args, target, photos)
    progress.step()
    return out


def _counts(text: str, option: str) -> list[int]:
    from .._errors import ConfigurationError

    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise ConfigurationError(f"{option} takes positive whole numbers, comma-separated (e.g. 1,2)")
    return counts


def _scaling_goal(count: int, base: int) -> Goal | None:
    """More processes than the first, up to the cores: each extra one adds at least 85 % of what
    the first gave (2 vs 1: at least 1.7x the calls per second)."""
    cpus = os.cpu_count() or 1
    if not base < count <= cpus:
        return None
    return Goal(at_most=round(base / (0.85 * count), 3))


def _compare_processes(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("grpc")
    counts = _counts(args.processes, "--processes")
    keys = Keyring.new_keyring_string("bench")
    photos, source = _face_photos(args) if args.face_n > 0 else ([], "")
    results: dict[int, dict[str, Timing]] = {}
    for count in counts:
        with tempfile.TemporaryDirectory(prefix="verifykit-bench-") as tmp:
            progress.stage(f"{count} server processes: {len(CALLS)} kinds of call", 4)
            sidecar = _sidecar(args, keys, Path(tmp), processes=count)
            try:
                results[count] = _process_cases(args, progress, sidecar.target, photos)
            finally:
                sidecar.stop()
    base, c = results[counts[0]], args.clients
    measured = [key for key in CALLS if key in base]
    for count in counts:
        for key in measured:
            clients = args.face_clients if key == "face_verify" else c
            label = (
                f"{CALLS[key]} per call, {count} server processes, {clients} clients (baseline: {counts[0]})"
            )
            report.add(label, "ms", 1000 / results[count][key].per_second, 1000 / base[key].per_second,
                       _scaling_goal(count, counts[0]))  # fmt: skip
    report.extra["by_processes"] = {
        "processes": counts,
        "calls_per_second": {
            CALLS[key]: [round(results[count][key].per_second, 2) for count in counts] for key in measured
        },
    }
    last = counts[-1]
    report.extra[f"speedup_{last}_vs_{counts[0]}"] = {
        CALLS[key]: round(results[last][key].per_second / base[key].per_second, 2) for key in measured
    }
    report.extra["store"] = args.store.split("@")[-1]
    report.extra["password_preset"] = args.password_preset
    if photos:
        report.extra["face_photos"] = source
    report.extra["cpus"] = os.cpu_count()
    report.extra["load_average_1m"] = round(os.getloadavg()[0], 2)
    return report


def _sweep_clients(args: argparse.Namespace, progress: Progress) -> BenchReport:
    """p50, p90 and p99 of email-code checks and password verifies through one sidecar at each
    number of concurrent clients; each client on its own connection."""
    report = BenchReport("grpc")
    counts = _counts(args.client_counts, "--client-counts")
    keys = Keyring.new_keyring_string("bench")
    results: dict[int, dict[str, Timing]] = {}
    with tempfile.TemporaryDirectory(prefix="verifykit-bench-") as tmp:
        sidecar = _sidecar(args, keys, Path(tmp), clients=max(counts))
        try:
            progress.stage("latency at each number of clients", len(counts))
            for count in counts:
                channels = _connections(sidecar.target, count)
                try:
                    otp = _otp_calls(args, channels)
                    results[count] = {
                        "otp_check": otp["otp_check"],
                        "password_verify": _password_calls(args, channels),
                    }
                finally:
                    _close(channels)
                progress.step()
        finally:
            sidecar.stop()
    keys_measured = ("otp_check", "password_verify")
    for count in counts:
        for key in keys_measured:
            t = results[count][key]
            report.add(f"{CALLS[key]} p99, {count} clients (baseline: 3 x p50)", "ms", t.p99, 3 * t.p50)
    report.extra["by_clients"] = {
        "clients": counts,
        **{
            CALLS[key]: {
                "p50_ms": [round(results[n][key].p50, 3) for n in counts],
                "p90_ms": [round(percentile(results[n][key].samples, 90), 3) for n in counts],
                "p99_ms": [round(results[n][key].p99, 3) for n in counts],
                "calls_per_second": [round(results[n][key].per_second, 2) for n in counts],
            }
            for key in keys_measured
        },
    }
    report.extra["store"] = args.store.split("@")[-1]
    report.extra["password_preset"] = args.password_preset
    report.extra["cpus"] = os.cpu_count()
    report.extra["load_average_1m"] = round(os.getloadavg()[0], 2)
    return report


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    if args.processes and args.client_counts:
        from .._errors import ConfigurationError

        raise ConfigurationError("--processes and --client-counts are two different runs: choose one")
    if args.processes:
        return _compare_processes(args, progress)
    if args.client_counts:
        return _sweep_clients(args, progress)
    report = BenchReport("grpc")
    keys = Keyring.new_keyring_string("bench")
    keyring = Keyring.from_string(keys)
    with tempfile.TemporaryDirectory(prefix="verifykit-bench-") as tmp:
        progress.stage("start the sidecar", 1)
        sidecar = _sidecar(args, keys, Path(tmp))
        progress.step()
        try:
            t = _otp_cases(args, progress, f"127.0.0.1:{sidecar.port}", keyring)
            p = _password_cases(args, progress, f"127.0.0.1:{sidecar.port}", keyring)
            f = _face_cases(args, progress, f"127.0.0.1:{sidecar.port}") if args.face_n > 0 else {}
        finally:
            sidecar.stop()

    budget = t["health_1"].p50 + t["inproc"].p50 + 0.2
    report.add("health Check p50, 1 client (trivial call)", "ms", t["health_1"].p50)
    report.add("otp check p50, in-process", "ms", t["inproc"].p50)
    report.add("otp check p50 via sidecar, 1 client (baseline: trivial + in-process + 0.2 ms)", "ms",
               t["otp_1"].p50, budget)  # fmt: skip
    report.add("otp check p99 via sidecar, 1 client (baseline: in-process p99)", "ms",
               t["otp_1"].p99, t["inproc"].p99)  # fmt: skip
    c = args.clients
    report.add(
        f"health Check p99, {c} clients (baseline: 3 x p50)", "ms", t["health_n"].p99, 3 * t["health_n"].p50
    )
    report.add(f"otp check p99 via sidecar, {c} clients (baseline: 3 x p50)", "ms",
               t["otp_n"].p99, 3 * t["otp_n"].p50)  # fmt: skip
    report.add(f"otp check per call via sidecar, {c} clients (baseline: health Check)", "ms",
               1000 / t["otp_n"].per_second, 1000 / t["health_n"].per_second)  # fmt: skip
    report.add("password verify p50, in-process", "ms", p["inproc"].p50)
    report.add("password verify p50 via sidecar, 1 client (baseline: in-process)", "ms",
               p["one"].p50, p["inproc"].p50)  # fmt: skip
    report.add(f"password verify per call via sidecar, {c} clients (baseline: 1 client)", "ms",
               1000 / p["many"].per_second, 1000 / p["one"].per_second)  # fmt: skip
    report.add(f"password verify p99 via sidecar, {c} clients (baseline: 3 x p50)", "ms",
               p["many"].p99, 3 * p["many"].p50)  # fmt: skip
    if f:
        report.add("face verify per call via sidecar, 2 clients (baseline: 1 client)", "ms",
                   1000 / f["face_2"].per_second, 1000 / f["face_1"].per_second)  # fmt: skip
        report.add("face verify per call via sidecar, 4 clients (baseline: 1 client)", "ms",
                   1000 / f["face_4"].per_second, 1000 / f["face_1"].per_second)  # fmt: skip
    t.update({f"password_{k}": v for k, v in p.items()})
    t.update(f)
    report.extra["password_preset"] = args.password_preset
    report.extra["store"] = args.store.split("@")[-1]
    report.extra["calls"] = args.n
    report.extra["p50_ms"] = {k: round(v.p50, 4) for k, v in t.items()}
    report.extra["p99_ms"] = {k: round(v.p99, 4) for k, v in t.items()}
    report.extra["calls_per_second"] = {k: round(v.per_second, 1) for k, v in t.items()}
    report.extra["cpus"] = os.cpu_count()
    return report
