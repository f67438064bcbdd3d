"""``verifykit bench otp``: start + check through EmailOTP on memory:// and redis://, in both
flavours, beside raw baselines doing the minimal equivalent work in the same run.

On Redis the goals are: a start, less its delivery (timed apart, around the mailer's own send), costs
at most 3x one raw HSET+PEXPIRE pipeline at p50; a check, sync or async, costs at most 1.5x one raw
EVALSHA of a trivial script on the same driver at p50 (calls alternate, so both see the same
server and load); and with 64 checks in flight in one process, the asyncio verifier (64 tasks on
one loop) keeps up with the sync one (64 threads), each with p99 at most 3x its p50.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any

from .. import aio
from .._verdict import Reason, Verdict
from ..crypto import Keyring
from ..delivery import Outbox, code_in
from ..otp import EmailOTP, OTPSettings
from ..store import LockoutPolicy, WindowPolicy, open_store
from ._report import BenchReport, Progress, percentile, time_call
from ._store import drop_namespace, raw_client

__all__ = ["add_arguments", "run"]

_TRIVIAL = "return redis.call('HGET', KEYS[1], 'status')"
_WARMUP = 50
_ROUNDS = 8  # the concurrent case alternates async and sync rounds, so both see the same load
_GUESSES = 19  # wrong codes per challenge in the concurrent case (one short of the most allowed)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=2000, help="start+check pairs per backend (default 2000)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL ('' to skip)")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="checks in flight in the concurrent case (default 64)"
    )
    parser.add_argument(
        "--concurrent-checks",
        type=int,
        default=4096,
        help="checks per flavour in the concurrent case (default 4096)",
    )


def _unlimited(*, guesses: bool = False) -> OTPSettings:
    # The bench measures the operations, not the limits: make the limits wide enough never to trip.
    # With ``guesses``, each challenge takes the most wrong codes the settings allow and no
    # subject is locked out by them, so the concurrent case needs few challenges.
    wide = WindowPolicy(limit=10**9, window=1)
    if not guesses:
        return OTPSettings(destination_limit=wide, subject_limit=wide)
    return OTPSettings(
        destination_limit=wide,
        subject_limit=wide,
        max_attempts=_GUESSES + 1,
        lockout=LockoutPolicy(threshold=100, hard_cap=100),
    )


Timed = Callable[[], object]


class _TimedOutbox(Outbox):
    """An :class:`Outbox` that keeps how long each send took (ms): the delivery a start includes."""

    def __init__(self) -> None:
        super().__init__()
        self.sent_ms: list[float] = []

    def send(self, message: EmailMessage) -> None:
        t0 = time.perf_counter()
        super().send(message)
        self.sent_ms.append((time.perf_counter() - t0) * 1000)

    def clear(self) -> None:
        super().clear()
        self.sent_ms.clear()


Pending = list[tuple[str, str]]  # (challenge id, the right code)


def _approved(verdict: Verdict) -> None:
    if not verdict.approved:
        raise RuntimeError(f"benchmark check was not approved: {verdict.reason}")


def _wrong(verdict: Verdict) -> None:
    if verdict.reason is not Reason.WRONG_CODE:
        raise RuntimeError(f"benchmark guess was not refused as a wrong code: {verdict.reason}")


def _guesses(pending: Pending) -> Pending:
    """``_GUESSES`` wrong codes for each challenge: its code with the last digit changed."""
    return [
        (challenge_id, code[:-1] + str((int(code[-1]) + 1) % 10))
        for challenge_id, code in pending
        for _ in range(_GUESSES)
    ]


def _starts(
    otp: EmailOTP, outbox: _TimedOutbox, n: int, progress: Progress, *, label: str, baseline: Timed
) -> tuple[list[float], list[float], Pending]:
    """``n`` starts, each followed at once by its baseline; latencies in ms, less each start's own
    delivery (the mailer's send), and the challenges made."""
    starts: list[float] = []
    raw: list[float] = []
    pending: Pending = []
    progress.stage(f"{label}: start", n)
    for i in range(n):
        t0 = time.perf_counter()
        ch = otp.start(f"bench-{i}", f"bench{i}@example.com")
        starts.append((time.perf_counter() - t0) * 1000 - outbox.sent_ms.pop())
        raw.append(time_call(baseline))
        pending.append((ch.id, code_in(outbox.last())))
        outbox.clear()
        progress.step()
    return starts, raw, pending


def _issue(otp: EmailOTP, outbox: Outbox, n: int, progress: Progress, label: str) -> Pending:
    """``n`` fresh challenges and their codes, made untimed on a few threads (starts wait on Redis)."""
    run_id = secrets.token_hex(3)

    def one(i: int) -> tuple[str, str]:
        address = f"bench{run_id}.{i}@example.com"
        return otp.start(f"bench-{run_id}-{i}", address).id, address

    with ThreadPoolExecutor(8) as pool:
        made = list(progress.iterate(f"{label}: make challenges", pool.map(one, range(n)), n))
    codes = {str(m["To"]): code_in(m) for m in outbox.messages}
    outbox.clear()
    return [(challenge_id, codes[address]) for challenge_id, address in made]


def _checks(
    check: Callable[[str, str], Verdict], pending: Pending, baseline: Timed, progress: Progress, label: str
) -> tuple[list[float], list[float]]:
    """One check per challenge alternating with one baseline call (who goes first alternates too,
    so neither always finds a warmer cache); latencies in ms. The first few warm both up, untimed."""
    for challenge_id, code in pending[:_WARMUP]:
        _approved(check(challenge_id, code))
        baseline()
    checks: list[float] = []
    raw: list[float] = []
    progress.stage(f"{label}: check", len(pending) - _WARMUP)
    for i, (challenge_id, code) in enumerate(pending[_WARMUP:]):
        if i % 2:
            raw.append(time_call(baseline))
        t0 = time.perf_counter()
        verdict = check(challenge_id, code)
        checks.append((time.perf_counter() - t0) * 1000)
        if not i % 2:
            raw.append(time_call(baseline))
        _approved(verdict)
        progress.step()
    return checks, raw


async def _timed(call: Awaitable[object]) -> float:
    t0 = time.perf_counter()
    await call
    return (time.perf_counter() - t0) * 1000


async def _async_checks(
    otp: aio.EmailOTP, client: Any, key: str, pending: Pending, *, progress: Progress, label: str
) -> tuple[list[float], list[float]]:
    """:func:`_checks` on the event loop: the async check against one raw ``redis.asyncio`` EVALSHA."""
    sha = await client.script_load(_TRIVIAL)
    for challenge_id, code in pending[:_WARMUP]:
        _approved(await otp.check(challenge_id, code))
        await client.evalsha(sha, 1, key)
    checks: list[float] = []
    raw: list[float] = []
    progress.stage(f"{label}: async check", len(pending) - _WARMUP)
    for i, (challenge_id, code) in enumerate(pending[_WARMUP:]):
        if i % 2:
            raw.append(await _timed(client.evalsha(sha, 1, key)))
        t0 = time.perf_counter()
        verdict = await otp.check(challenge_id, code)
        checks.append((time.perf_counter() - t0) * 1000)
        if not i % 2:
            raw.append(await _timed(client.evalsha(sha, 1, key)))
        _approved(verdict)
        progress.step()
    return checks, raw


async def _async_round(otp: aio.EmailOTP, slices: list[Pending]) -> tuple[float, list[float]]:
    """One task per slice, all on this loop; the round's wall time (s) and each check's latency (ms)."""
    latencies: list[float] = []

    async def worker(mine: Pending) -> None:
        for challenge_id, code in mine:
            t0 = time.perf_counter()
            verdict = await otp.check(challenge_id, code)
            latencies.append((time.perf_counter() - t0) * 1000)
            _wrong(verdict)

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(mine) for mine in slices))
    return time.perf_counter() - t0, latencies


def _sync_round(otp: EmailOTP, pool: ThreadPoolExecutor, slices: list[Pending]) -> tuple[float, list[float]]:
    """One thread per slice, released together; the round's wall time (s) and each check's latency (ms)."""
    latencies: list[float] = []
    gate = threading.Barrier(len(slices) + 1)

    def worker(mine: Pending) -> None:
        gate.wait()
        for challenge_id, code in mine:
            t0 = time.perf_counter()
            verdict = otp.check(challenge_id, code)
            latencies.append((time.perf_counter() - t0) * 1000)  # list.append is atomic
            _wrong(verdict)

    futures = [pool.submit(worker, mine) for mine in slices]
    gate.wait()
    t0 = time.perf_counter()
    for future in futures:
        future.result()
    return time.perf_counter() - t0, latencies


def _deal(pending: Pending, hands: int) -> list[Pending]:
    return [pending[i::hands] for i in range(hands)]


def _concurrent(
    runner: asyncio.Runner,
    sync_otp: EmailOTP,
    async_otp: aio.EmailOTP,
    batches: tuple[Pending, Pending],
    *,
    concurrency: int,
    progress: Progress,
) -> dict[str, tuple[float, list[float]]]:
    """``_ROUNDS`` rounds of each flavour with ``concurrency`` checks in flight, alternating which
    goes first; per flavour the total wall time (s) and every check's latency (ms)."""
    async_batch, sync_batch = batches
    warm = concurrency
    per_round = (len(async_batch) - warm) // _ROUNDS
    totals: dict[str, tuple[float, list[float]]] = {"async": (0.0, []), "sync": (0.0, [])}
    progress.stage(f"{concurrency} concurrent checks", 2 * _ROUNDS)
    with ThreadPoolExecutor(concurrency) as pool:
        # Warm-up: every thread and connection exists before the first timed round.
        runner.run(_async_round(async_otp, _deal(async_batch[:warm], concurrency)))
        _sync_round(sync_otp, pool, _deal(sync_batch[:warm], concurrency))
        for r in range(_ROUNDS):
            lo, hi = warm + r * per_round, warm + (r + 1) * per_round
            order = ("async", "sync") if r % 2 == 0 else ("sync", "async")
            for flavour in order:
                if flavour == "async":
                    wall, lat = runner.run(_async_round(async_otp, _deal(async_batch[lo:hi], concurrency)))
                else:
                    wall, lat = _sync_round(sync_otp, pool, _deal(sync_batch[lo:hi], concurrency))
                total, all_lat = totals[flavour]
                totals[flavour] = (total + wall, all_lat + lat)
                progress.step()
    return totals


def _raw_memory_check() -> Timed:
    """The least an in-process check can do: one HMAC and a constant-time compare under a lock."""
    key = secrets.token_bytes(32)
    stored = hmac.new(key, b"cid\x00123456", hashlib.sha256).hexdigest()
    lock = threading.Lock()
    state = {"attempts": 0}

    def check() -> None:
        with lock:
            state["attempts"] += 1
            hmac.compare_digest(hmac.new(key, b"cid\x00123456", hashlib.sha256).hexdigest(), stored)

    return check


class _RawRedis:
    """Raw redis-py on the same server: one EVALSHA of a trivial script (the floor of a check)
    and one HSET+PEXPIRE pipeline (the least a start must write)."""

    def __init__(self, url: str) -> None:
        self.client = raw_client(url, cluster=False)
        self.sha = self.client.script_load(_TRIVIAL)
        self.key = f"vkbench{uuid.uuid4().hex[:8]}"
        self.client.hset(self.key, mapping={"status": "pending"})
        self.writes = 0

    def evalsha(self) -> None:
        self.client.evalsha(self.sha, 1, self.key)

    def write(self) -> None:
        self.writes += 1
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(f"{self.key}:{self.writes}", mapping={"status": "pending", "secret": "x" * 67})
        pipe.pexpire(f"{self.key}:{self.writes}", 60_000)
        pipe.execute()

    def close(self) -> None:
        self.client.delete(self.key)
        drop_namespace(self.client, self.key, cluster=False)
        self.client.close()


def _pairs_per_s(starts: list[float], checks: list[float]) -> float:
    return round(1000 / (sum(starts) / len(starts) + sum(checks) / len(checks)), 1)


def _memory(report: BenchReport, keyring: Keyring, n: int, progress: Progress) -> None:
    outbox = _TimedOutbox()
    otp = EmailOTP(
        store=open_store("memory://"), keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None
    )
    starts, _, pending = _starts(otp, outbox, n + _WARMUP, progress, label="memory://", baseline=lambda: None)
    checks, raw = _checks(otp.check, pending, _raw_memory_check(), progress, "memory://")
    what = "raw HMAC+compare under a lock"
    report.add(f"check p50, memory, vs {what}", "ms", percentile(checks, 50), percentile(raw, 50))
    report.add(f"check p99, memory, vs {what}", "ms", percentile(checks, 99), percentile(raw, 99))
    report.add("start p50 less its delivery, memory (no baseline)", "ms", percentile(starts, 50))
    report.extra["memory_start_check_pairs_per_s"] = _pairs_per_s(starts, checks)


def _redis(
    report: BenchReport, args: argparse.Namespace, keyring: Keyring, n: int, progress: Progress
) -> None:
    url = args.redis
    concurrency = max(int(args.concurrency), 1)
    # Whole rounds of whole hands, plus one hand to warm up.
    per_round = max(int(args.concurrent_checks) // (_ROUNDS * concurrency), 1) * concurrency
    concurrent_n = per_round * _ROUNDS
    namespace = f"vkbench{uuid.uuid4().hex[:8]}"
    raw_redis = _RawRedis(url)
    outbox = _TimedOutbox()
    try:
        with (
            open_store(url, namespace=namespace) as store,
            asyncio.Runner() as runner,
        ):
            otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None)
            starts, writes, pending = _starts(
                otp, outbox, n + _WARMUP, progress, label="redis://", baseline=raw_redis.write
            )
            checks, evals = _checks(otp.check, pending, raw_redis.evalsha, progress, "redis://")

            async_store = aio.open_store(url, namespace=namespace)
            async_client = raw_client(url, cluster=False, awaited=True)
            try:
                async_otp = aio.EmailOTP(
                    store=async_store, keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None
                )
                pending = _issue(otp, outbox, n + _WARMUP, progress, "redis://")
                async_checks, async_evals = runner.run(
                    _async_checks(
                        async_otp, async_client, raw_redis.key, pending, progress=progress, label="redis://"
                    )
                )
                # Wrong codes from here on, several per challenge, so few starts feed many checks.
                guessing = _unlimited(guesses=True)
                otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, settings=guessing, audit=None)
                async_otp = aio.EmailOTP(
                    store=async_store, keyring=keyring, mailer=outbox, settings=guessing, audit=None
                )
                each = concurrent_n + concurrency  # plus one hand to warm up
                made = _issue(otp, outbox, -(-2 * each // _GUESSES), progress, "redis:// concurrent")
                guesses = _guesses(made)
                batches = (guesses[:each], guesses[each : 2 * each])
                totals = _concurrent(
                    runner, otp, async_otp, batches, concurrency=concurrency, progress=progress
                )
            finally:
                runner.run(async_client.aclose())
                runner.run(async_store.close())
    finally:
        drop_namespace(raw_redis.client, namespace, cluster=False)
        raw_redis.close()

    for p in (50, 99):
        report.add(f"check p{p}, redis, vs raw EVALSHA", "ms", percentile(checks, p), percentile(evals, p))
    for p in (50, 99):
        report.add(
            f"async check p{p}, redis, vs raw redis.asyncio EVALSHA",
            "ms",
            percentile(async_checks, p),
            percentile(async_evals, p),
        )
    report.add(
        "start p50 less its delivery, redis, vs raw HSET+PEXPIRE pipeline",
        "ms",
        percentile(starts, 50),
        percentile(writes, 50),
    )
    report.extra["redis_start_check_pairs_per_s"] = _pairs_per_s(starts, checks)
    report.extra["redis_check_ops_per_s"] = round(1000 * len(checks) / sum(checks), 1)
    report.extra["redis_async_check_ops_per_s"] = round(1000 * len(async_checks) / sum(async_checks), 1)
    _add_concurrent(report, totals, concurrency)
    report.extra["start_round_trips"] = (
        "a start makes 2 store round trips (lockout, limits and create in one script; the delivery "
        "status) plus the mail send"
    )


def _add_concurrent(
    report: BenchReport, totals: dict[str, tuple[float, list[float]]], concurrency: int
) -> None:
    async_wall, async_lat = totals["async"]
    sync_wall, sync_lat = totals["sync"]
    c = concurrency
    report.add(
        f"{c} concurrent checks, redis: async ({c} tasks) vs sync ({c} threads), wall ms per check",
        "ms",
        1000 * async_wall / len(async_lat),
        1000 * sync_wall / len(sync_lat),
    )
    for flavour, lat in (("async", async_lat), ("sync", sync_lat)):
        report.add(
            f"{c} concurrent checks, redis, {flavour}: p99 vs its own p50",
            "ms",
            percentile(lat, 99),
            percentile(lat, 50),
        )
    async_rate, sync_rate = len(async_lat) / async_wall, len(sync_lat) / sync_wall
    report.extra[f"redis_{c}_concurrent_async_checks_per_s"] = round(async_rate, 1)
    report.extra[f"redis_{c}_concurrent_sync_checks_per_s"] = round(sync_rate, 1)
    report.extra[f"redis_{c}_concurrent_async_vs_sync_throughput"] = round(async_rate / sync_rate, 2)
    report.extra["concurrent_checks_per_flavour"] = len(async_lat)


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("otp")
    n = max(args.n, 10)
    keyring = Keyring.generate()
    _memory(report, keyring, n, progress)
    if args.redis:
        _redis(report, args, keyring, n, progress)
    report.extra["n"] = n
    return report
