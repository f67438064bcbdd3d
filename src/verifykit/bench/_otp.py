"""``verifykit bench otp``: start + check through EmailOTP on memory:// and redis://, beside raw
baselines doing the minimal equivalent work in the same run."""

from __future__ import annotations

import argparse
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable

from ..crypto import Keyring
from ..otp import EmailOTP, OTPSettings
from ..store import open_store
from ..testing import Outbox, last_code
from ._report import BenchReport, Progress, percentile, time_call
from ._store import drop_namespace, raw_client

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=2000, help="start+check pairs per backend (default 2000)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0", help="Redis URL ('' to skip)")


def _unlimited() -> OTPSettings:
    # The bench measures the operations, not the limits: make the limits wide enough never to trip.
    from ..store import WindowPolicy

    wide = WindowPolicy(limit=10**9, window=1)
    return OTPSettings(destination_limit=wide, subject_limit=wide)


Timed = Callable[[], object]


def _measure(
    otp: EmailOTP,
    outbox: Outbox,
    n: int,
    progress: Progress,
    label: str,
    *,
    baselines: tuple[Timed, Timed],
) -> tuple[list[float], list[float], list[float], list[float]]:
    """All starts, then all checks, each followed at once by its baseline, so both see the
    same machine load; checks are not timed in the wake of a start's MIME garbage.

    Returns start, start-baseline, check and check-baseline latencies in ms.
    """
    start_base, check_base = baselines
    starts: list[float] = []
    raw_starts: list[float] = []
    checks: list[float] = []
    raw_checks: list[float] = []
    pending: list[tuple[str, str]] = []
    progress.stage(f"{label}: start", n)
    for i in range(n):
        t0 = time.perf_counter()
        ch = otp.start(f"bench-{i}", f"bench{i}@example.com")
        starts.append((time.perf_counter() - t0) * 1000)
        raw_starts.append(time_call(start_base))
        pending.append((ch.id, last_code(outbox)))
        outbox.clear()
        progress.step()
    progress.stage(f"{label}: check", n)
    for challenge_id, code in pending:
        t0 = time.perf_counter()
        verdict = otp.check(challenge_id, code)
        checks.append((time.perf_counter() - t0) * 1000)
        raw_checks.append(time_call(check_base))
        if not verdict.approved:
            raise RuntimeError("benchmark check was not approved")
        progress.step()
    return starts, raw_starts, checks, raw_checks


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
        self.sha = self.client.script_load("return redis.call('HGET', KEYS[1], 'status')")
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


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("otp")
    n = max(args.n, 10)
    keyring = Keyring.generate()

    outbox = Outbox()
    otp = EmailOTP(
        store=open_store("memory://"), keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None
    )
    starts, _, checks, raw = _measure(
        otp, outbox, n, progress, "memory://", baselines=(lambda: None, _raw_memory_check())
    )
    what = "raw HMAC+compare under a lock"
    report.add(f"check p50, memory, vs {what}", "ms", percentile(checks, 50), percentile(raw, 50))
    report.add(f"check p99, memory, vs {what}", "ms", percentile(checks, 99), percentile(raw, 99))
    report.add("start p50, memory (no baseline)", "ms", percentile(starts, 50))
    report.extra["memory_start_check_pairs_per_s"] = round(1000 * n / (sum(starts) + sum(checks)), 1)

    if args.redis:
        namespace = f"vkbench{uuid.uuid4().hex[:8]}"
        raw_redis = _RawRedis(args.redis)
        try:
            with open_store(args.redis, namespace=namespace) as store:
                outbox = Outbox()
                otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None)
                starts, writes, checks, evals = _measure(
                    otp, outbox, n, progress, "redis://", baselines=(raw_redis.write, raw_redis.evalsha)
                )
        finally:
            drop_namespace(raw_redis.client, namespace, cluster=False)
            raw_redis.close()
        report.add("check p50, redis, vs raw EVALSHA", "ms", percentile(checks, 50), percentile(evals, 50))
        report.add("check p99, redis, vs raw EVALSHA", "ms", percentile(checks, 99), percentile(evals, 99))
        report.add(
            "start p50, redis, vs raw HSET+PEXPIRE pipeline",
            "ms",
            percentile(starts, 50),
            percentile(writes, 50),
        )
        report.extra["redis_start_check_pairs_per_s"] = round(1000 * n / (sum(starts) + sum(checks)), 1)
        report.extra["redis_check_ops_per_s"] = round(1000 * n / sum(checks), 1)
        report.extra["start_round_trips"] = (
            "a start makes 5 store round trips (lockout read, 2 limits, create, delivery status) "
            "plus the mail send"
        )
    report.extra["n"] = n
    return report
