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

from ..crypto import Keyring
from ..otp import EmailOTP, OTPSettings
from ..store import open_store
from ..testing import Outbox, last_code
from ._report import BenchReport, Progress, percentile
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


def _measure(
    otp: EmailOTP, outbox: Outbox, n: int, progress: Progress, label: str
) -> tuple[list[float], list[float]]:
    starts: list[float] = []
    checks: list[float] = []
    progress.stage(label, n)
    for i in range(n):
        t0 = time.perf_counter()
        ch = otp.start(f"bench-{i}", f"bench{i}@example.com")
        t1 = time.perf_counter()
        code = last_code(outbox)
        outbox.clear()
        t2 = time.perf_counter()
        verdict = otp.check(ch.id, code)
        t3 = time.perf_counter()
        if not verdict.approved:
            raise RuntimeError("benchmark check was not approved")
        starts.append((t1 - t0) * 1000)
        checks.append((t3 - t2) * 1000)
        progress.step()
    return starts, checks


def _raw_memory_check(n: int) -> list[float]:
    """The least an in-process check can do: one HMAC and a constant-time compare under a lock."""
    key = secrets.token_bytes(32)
    stored = hmac.new(key, b"cid\x00123456", hashlib.sha256).hexdigest()
    lock = threading.Lock()
    state = {"attempts": n + 1}
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        with lock:
            state["attempts"] -= 1
            hmac.compare_digest(hmac.new(key, b"cid\x00123456", hashlib.sha256).hexdigest(), stored)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _raw_redis(url: str, n: int, progress: Progress) -> tuple[list[float], list[float]]:
    """Raw redis-py: one EVALSHA of a trivial script (the check floor) and one HSET+PEXPIRE
    pipeline (the least a start must write), on the same server in the same run."""
    client = raw_client(url, cluster=False)
    sha = client.script_load("return redis.call('HGET', KEYS[1], 'status')")
    key = f"vkbench{uuid.uuid4().hex[:8]}"
    client.hset(key, mapping={"status": "pending"})
    evals: list[float] = []
    writes: list[float] = []
    progress.stage("raw redis-py baseline", n)
    for i in range(n):
        t0 = time.perf_counter()
        client.evalsha(sha, 1, key)
        t1 = time.perf_counter()
        pipe = client.pipeline(transaction=False)
        pipe.hset(f"{key}:{i}", mapping={"status": "pending", "secret": "x" * 67})
        pipe.pexpire(f"{key}:{i}", 60_000)
        pipe.execute()
        t2 = time.perf_counter()
        evals.append((t1 - t0) * 1000)
        writes.append((t2 - t1) * 1000)
        progress.step()
    client.delete(key)
    drop_namespace(client, key, cluster=False)
    client.close()
    return evals, writes


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("otp")
    n = max(args.n, 10)
    keyring = Keyring.generate()

    outbox = Outbox()
    otp = EmailOTP(
        store=open_store("memory://"), keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None
    )
    starts, checks = _measure(otp, outbox, n, progress, "memory:// start+check")
    raw = _raw_memory_check(n)
    report.add(
        "check p50, memory, vs raw HMAC+compare under a lock",
        "ms",
        percentile(checks, 50),
        percentile(raw, 50),
    )
    report.add(
        "check p99, memory, vs raw HMAC+compare under a lock",
        "ms",
        percentile(checks, 99),
        percentile(raw, 99),
    )
    report.add("start p50, memory (no baseline)", "ms", percentile(starts, 50))
    report.extra["memory_start_check_pairs_per_s"] = round(1000 * n / (sum(starts) + sum(checks)), 1)

    if args.redis:
        namespace = f"vkbench{uuid.uuid4().hex[:8]}"
        store = open_store(args.redis, namespace=namespace)
        outbox = Outbox()
        otp = EmailOTP(store=store, keyring=keyring, mailer=outbox, settings=_unlimited(), audit=None)
        starts, checks = _measure(otp, outbox, n, progress, "redis:// start+check")
        evals, writes = _raw_redis(args.redis, n, progress)
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
        store.close()
        client = raw_client(args.redis, cluster=False)
        drop_namespace(client, namespace, cluster=False)
        client.close()
    report.extra["n"] = n
    return report
