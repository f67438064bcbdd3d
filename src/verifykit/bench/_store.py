"""``verifykit bench store``: the store's check (``attempt``) on memory://, redis:// and, given
``--cluster``, a Redis Cluster, beside raw baselines measured in the same run.

The goal: a check is one round trip and costs at most 1.5x one raw EVALSHA of a trivial
script at p50. Store and baseline calls alternate, so both see the same server and load.
A second baseline does a check's minimal work with plain commands (HGETALL, then HSET):
two round trips and no atomicity, which is what the script saves. The asyncio store
(:func:`verifykit.store.open_async_store`) is measured the same way, against one raw ``redis.asyncio``
EVALSHA of the trivial script, in the same run.

Given ``--wait-cluster`` (a cluster with a replica per master), a check with the store option
``wait_replicas=1`` (the script, then WAIT for one replica) is measured beside one without it:
the ratio is what closing the failover gap costs.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import importlib
import secrets
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .._errors import ConfigurationError
from ..store import (
    AsyncChallengeStore,
    ChallengeStore,
    LockoutPolicy,
    NewChallenge,
    open_async_store,
    open_store,
)
from ..store.low_level import (
    RedisStore,
    cluster_nodes,
    policy_args,
    redis_driver,
    script_sha,
    script_source,
    split_query,
)
from ._report import BenchReport, Progress, percentile, time_call

__all__ = ["add_arguments", "run"]

_RIGHT = "k1:" + "ab" * 32  # shaped like a keyring digest
_TAG = "benchbenchbenchbenchbenchb"
_LOCKOUT_KEY = f"{{{_TAG}}}:fail:otp"
_POLICY = LockoutPolicy()
_TRIVIAL = "return redis.call('HGET', KEYS[1], 'status')"
_WARMUP = 50


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=2000, help="checks per backend (default 2000)")
    parser.add_argument(
        "--redis", default="redis://127.0.0.1:6379/0", help="Redis URL (default %(default)s; '' to skip)"
    )
    parser.add_argument("--cluster", default="", help="a redis+cluster:// URL to measure as well")
    parser.add_argument(
        "--wait-cluster",
        default="",
        help="a redis+cluster:// URL with a replica per master: checks with wait_replicas=1 vs without",
    )


def _challenges(store: ChallengeStore, n: int) -> list[str]:
    ids = []
    for _ in range(n):
        new = NewChallenge(
            id=f"{_TAG}.{secrets.token_urlsafe(16)}",
            kind="bench",
            subject="bench",
            secret=_RIGHT,
            ttl=600,
            max_attempts=5,
            resend_after=30,
            destination="b***@example.com",
        )
        store.create(new, retention=60)
        ids.append(new.id)
    return ids


def _check(store: ChallengeStore, challenge_id: str) -> None:
    # What EmailOTP.check asks of the store: one attempt with the subject's lockout.
    store.attempt(challenge_id, [_RIGHT], lockout_key=_LOCKOUT_KEY, lockout=_POLICY)


def _side_by_side(
    n: int,
    store: ChallengeStore,
    baselines: dict[str, Callable[[], object]],
    progress: Progress,
    label: str,
) -> tuple[list[float], dict[str, list[float]]]:
    """Alternate one check with one call of each baseline, ``n`` times; latencies in ms."""
    ids = _challenges(store, n + _WARMUP)
    for cid in ids[:_WARMUP]:
        _check(store, cid)
        for fn in baselines.values():
            fn()
    checks: list[float] = []
    raw: dict[str, list[float]] = {name: [] for name in baselines}
    progress.stage(label, n)
    for i, cid in enumerate(ids[_WARMUP:]):
        if i % 2:  # alternate which goes first, so neither always finds a warmer cache
            checks.append(time_call(functools.partial(_check, store, cid)))
        for name, fn in baselines.items():
            raw[name].append(time_call(fn))
        if not i % 2:
            checks.append(time_call(functools.partial(_check, store, cid)))
        progress.step()
    return checks, raw


def _memory(report: BenchReport, n: int, progress: Progress) -> None:
    lock = threading.Lock()
    table: dict[str, dict[str, Any]] = {"c": {"attempts": 10**9, "secret": _RIGHT}}

    def raw_check() -> None:
        # The least an in-process check does: look up, compare, count down under a lock.
        with lock:
            entry = table["c"]
            entry["attempts"] -= 1
            _ = entry["secret"] == _RIGHT

    with open_store("memory://") as store:
        checks, raw = _side_by_side(n, store, {"raw": raw_check}, progress, "memory:// check")
    _add(report, "memory", checks, raw["raw"], "raw dict update under a lock")


def raw_client(url: str, *, cluster: bool, awaited: bool = False) -> Any:
    """A plain redis-py client (``redis.asyncio``'s if ``awaited``) on the store's server or cluster."""
    redis = importlib.import_module("redis.asyncio") if awaited else redis_driver()
    base, _options = split_query(url, {})
    if not cluster:
        return redis.Redis.from_url(base, decode_responses=True)
    nodes, username, password = cluster_nodes(base)
    return redis.cluster.RedisCluster(
        startup_nodes=[redis.cluster.ClusterNode(host, port) for host, port in nodes],
        username=username,
        password=password,
        ssl=base.startswith("rediss"),
        decode_responses=True,
    )


def _redis(report: BenchReport, url: str, n: int, progress: Progress, *, cluster: bool) -> None:
    name = "cluster" if cluster else "redis"
    namespace = f"vkbench{secrets.token_hex(4)}"
    key = f"{namespace}:raw:{{{_TAG}}}"
    with open_store(url, namespace=namespace) as store:
        store.now()  # a server that does not answer stops the bench here, as StoreUnavailable
        client = raw_client(url, cluster=cluster)
        try:
            client.hset(key, mapping={"status": "pending", "attempts_left": 10**9})
            sha = client.script_load(_TRIVIAL)

            def plain_commands() -> None:
                # The check without a script: read, decide, write back. Two round trips, and
                # not atomic (two racing checks could both approve): what a script replaces.
                fields = client.hgetall(key)
                left = int(fields["attempts_left"]) - 1
                client.hset(key, mapping={"attempts_left": left, "status": "pending"})

            # The store's own attempt script sent by raw redis-py, on challenges of its own:
            # the difference to a check is what verifykit's Python side costs.
            if not isinstance(store, RedisStore):
                raise ConfigurationError(f"not a Redis store URL: {store!r}")
            own = iter(_challenges(store, n + _WARMUP))
            lock = store.lockout_key(_LOCKOUT_KEY)
            args = [*policy_args(_POLICY), _RIGHT]
            client.script_load(script_source("attempt"))

            def same_script() -> None:
                keys = [store.challenge_key(next(own)), lock]
                client.evalsha(script_sha("attempt"), 2, *keys, *args)

            baselines = {
                "EVALSHA": lambda: client.evalsha(sha, 1, key),
                "HGETALL+HSET": plain_commands,
                "same script": same_script,
            }
            checks, raw = _side_by_side(n, store, baselines, progress, f"{name} check")
        finally:
            drop_namespace(client, namespace, cluster=cluster)
            client.close()
    _add(report, name, checks, raw["EVALSHA"], "raw EVALSHA")
    report.add(
        f"check p50, {name}, vs raw HGETALL then HSET (no script, not atomic)",
        "ms",
        percentile(checks, 50),
        percentile(raw["HGETALL+HSET"], 50),
    )
    report.add(
        f"check p50, {name}, vs raw EVALSHA of the same script (verifykit's client-side cost)",
        "ms",
        percentile(checks, 50),
        percentile(raw["same script"], 50),
    )
    report.extra[f"{name}_raw_evalsha_ops_per_s"] = round(1000 * n / sum(raw["EVALSHA"]), 1)


async def _timed(call: Awaitable[object]) -> float:
    """The latency of one awaited call, in milliseconds."""
    t0 = time.perf_counter()
    await call
    return (time.perf_counter() - t0) * 1000


async def _check_async(store: AsyncChallengeStore, challenge_id: str) -> None:
    await store.attempt(challenge_id, [_RIGHT], lockout_key=_LOCKOUT_KEY, lockout=_POLICY)


async def _async_side_by_side(
    url: str, namespace: str, key: str, ids: list[str], *, progress: Progress, label: str, cluster: bool
) -> tuple[list[float], list[float]]:
    """Alternate one async check with one raw ``redis.asyncio`` EVALSHA; latencies in ms."""
    client = raw_client(url, cluster=cluster, awaited=True)
    checks: list[float] = []
    raw: list[float] = []
    try:
        async with open_async_store(url, namespace=namespace) as store:
            sha = await client.script_load(_TRIVIAL)
            for cid in ids[:_WARMUP]:
                await _check_async(store, cid)
                await client.evalsha(sha, 1, key)
            progress.stage(label, len(ids) - _WARMUP)
            for i, cid in enumerate(ids[_WARMUP:]):
                if i % 2:  # alternate which goes first, as the sync comparison does
                    checks.append(await _timed(_check_async(store, cid)))
                raw.append(await _timed(client.evalsha(sha, 1, key)))
                if not i % 2:
                    checks.append(await _timed(_check_async(store, cid)))
                progress.step()
    finally:
        await client.aclose()
    return checks, raw


def _redis_async(report: BenchReport, url: str, n: int, progress: Progress, *, cluster: bool) -> None:
    name = "cluster" if cluster else "redis"
    namespace = f"vkbench{secrets.token_hex(4)}"
    key = f"{namespace}:raw:{{{_TAG}}}"
    client = raw_client(url, cluster=cluster)
    try:
        with open_store(url, namespace=namespace) as setup:  # the same challenges, made the sync way
            ids = _challenges(setup, n + _WARMUP)
        client.hset(key, mapping={"status": "pending", "attempts_left": 10**9})
        checks, raw = asyncio.run(
            _async_side_by_side(
                url, namespace, key, ids, progress=progress, label=f"{name} async check", cluster=cluster
            )
        )
    finally:
        drop_namespace(client, namespace, cluster=cluster)
        client.close()
    for p in (50, 99):
        report.add(
            f"async check p{p}, {name}, vs raw redis.asyncio EVALSHA",
            "ms",
            percentile(checks, p),
            percentile(raw, p),
        )
    report.extra[f"{name}_async_check_ops_per_s"] = round(1000 * len(checks) / sum(checks), 1)


def drop_namespace(client: Any, namespace: str, *, cluster: bool) -> None:
    """Remove the bench's keys (challenges, the lockout, the raw baseline's hash)."""
    pattern, step = f"{namespace}:*", 10_000
    if cluster:
        for found in list(client.scan_iter(match=pattern, count=step, target_nodes=client.PRIMARIES)):
            client.delete(found)
        return
    keys = list(client.scan_iter(match=pattern, count=step))
    for i in range(0, len(keys), 500):
        client.delete(*keys[i : i + 500])


def _add(report: BenchReport, backend: str, checks: list[float], raw: list[float], what: str) -> None:
    for p in (50, 99):
        report.add(f"check p{p}, {backend}, vs {what}", "ms", percentile(checks, p), percentile(raw, p))
    report.extra[f"{backend}_check_ops_per_s"] = round(1000 * len(checks) / sum(checks), 1)


def _wait_cost(report: BenchReport, url: str, n: int, progress: Progress) -> None:
    """Checks with ``wait_replicas=1`` beside checks without, alternating, on the same cluster."""
    namespace = f"vkbench{secrets.token_hex(4)}"
    client = raw_client(url, cluster=True)
    try:
        with (
            open_store(url, namespace=namespace) as plain,
            open_store(url, namespace=namespace, wait_replicas=1) as durable,
        ):
            plain_ids = _challenges(plain, n + _WARMUP)
            durable_ids = _challenges(plain, n + _WARMUP)
            for a, b in zip(plain_ids[:_WARMUP], durable_ids[:_WARMUP], strict=True):
                _check(plain, a)
                _check(durable, b)
            without: list[float] = []
            waited: list[float] = []
            progress.stage("cluster check with WAIT 1", n)
            for i, (a, b) in enumerate(zip(plain_ids[_WARMUP:], durable_ids[_WARMUP:], strict=True)):
                if i % 2:
                    waited.append(time_call(functools.partial(_check, durable, b)))
                without.append(time_call(functools.partial(_check, plain, a)))
                if not i % 2:
                    waited.append(time_call(functools.partial(_check, durable, b)))
                progress.step()
    finally:
        drop_namespace(client, namespace, cluster=True)
        client.close()
    for p in (50, 99):
        report.add(
            f"check p{p}, cluster, wait_replicas=1 vs without",
            "ms",
            percentile(waited, p),
            percentile(without, p),
        )


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    report = BenchReport("store")
    n = max(int(args.n), 10)
    _memory(report, n, progress)
    if args.redis:
        _redis(report, args.redis, n, progress, cluster=False)
        _redis_async(report, args.redis, n, progress, cluster=False)
    if args.cluster:
        _redis(report, args.cluster, n, progress, cluster=True)
        _redis_async(report, args.cluster, n, progress, cluster=True)
    if args.wait_cluster:
        _wait_cost(report, args.wait_cluster, n, progress)
    report.extra["n"] = n
    return report
