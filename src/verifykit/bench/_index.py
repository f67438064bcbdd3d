"""``verifykit bench index``: the shared 1:N face index on Redis, at a country's scale.

- Loading N random encodings into the store (sealed, through :meth:`FaceIndex.add_matrix`).
- A restarted sidecar's rebuild of its copy from the store: seconds (goal: under a minute at a
  million) and the memory the copy holds (resident set before and after, in a fresh process, so
  nothing else is counted), beside the bare float32 matrix's own size.
- Search in that copy against a bare numpy float32 matrix-vector product over the same matrix,
  in the same process (goal: at most 1.5 times).
- How soon a change made through one copy shows in another (p50 and worst of 20), against the
  one second promised.

Run it against a Redis nobody else is using: ``--url redis://host:6379/0`` (or a
``redis+cluster://`` URL); the bench writes under a namespace of its own and removes it after.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import time
import uuid
from typing import Any

import numpy as np
import numpy.typing as npt

from ..crypto import Keyring
from ._report import BenchReport, Progress

__all__ = ["add_arguments", "run"]

THRESHOLD = 0.6
_SEED = 7
_LOAD_BATCH = 50_000
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0", help="the Redis (or cluster) URL")
    parser.add_argument("--size", type=int, default=1_000_000, help="entries in the index (default 1M)")
    parser.add_argument("--queries", type=int, default=40, help="searches timed (default 40)")
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 10 queries")


def _matrix(n: int) -> npt.NDArray[np.float32]:
    rng = np.random.default_rng(_SEED)
    matrix = rng.standard_normal((n, 128), dtype=np.float32)
    matrix *= np.float32(0.09)
    return matrix


def _resident() -> int:
    """This process's resident set in bytes (Linux), 0 where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * _PAGE
    except OSError:
        return 0


def _restarted(url: str, namespace: str, keys: str, *, n: int, queries: int, out: Any) -> None:
    """A fresh process: rebuild the copy, measure it, time its searches against the bare product."""
    from ..face import FaceIndex
    from ..store import MemoryStore, SharedEntries

    keyring = Keyring.from_string(keys)
    entries = SharedEntries(url, namespace=namespace)
    entries.count()  # connect first: the rebuild alone is timed
    before = _resident()
    t0 = time.perf_counter()
    index = FaceIndex(keyring, store=MemoryStore(), audit=None, shared=entries, poll_interval=3600)
    rebuild = time.perf_counter() - t0
    held = _resident() - before
    size = len(index)
    matrix = _matrix(n)  # the same rows, bare, for the baseline
    rng = np.random.default_rng(_SEED + 1)
    picks = rng.choice(n, size=queries, replace=False)
    probes = [matrix[i] + rng.normal(0, 0.02, 128).astype(np.float32) for i in picks]
    ours: list[float] = []
    bare: list[float] = []
    found = 0
    for q in probes:
        index.search(q, k=5, threshold=THRESHOLD)  # warm caches alike for both
        matrix @ q
        t1 = time.perf_counter()
        hits = index.search(q, k=5, threshold=THRESHOLD)
        t2 = time.perf_counter()
        matrix @ q
        t3 = time.perf_counter()
        ours.append((t2 - t1) * 1000)
        bare.append((t3 - t2) * 1000)
        found += bool(hits)
    index.close()
    entries.close()
    out.put(
        {
            "rebuild_s": rebuild,
            "resident_bytes": held,
            "size": size,
            "search_ms": statistics.median(ours),
            "matvec_ms": statistics.median(bare),
            "found": found,
        }
    )


def _propagation(url: str, keyring: Keyring, rounds: int) -> list[float]:
    """Milliseconds from a change returning through one copy to its showing in another."""
    from ..face import FaceIndex
    from ..store import MemoryStore, SharedEntries

    namespace = f"vkbench{uuid.uuid4().hex[:8]}"
    one_entries, other_entries = (
        SharedEntries(url, namespace=namespace),
        SharedEntries(url, namespace=namespace),
    )
    one = FaceIndex(keyring, store=MemoryStore(), audit=None, shared=one_entries)
    other = FaceIndex(keyring, store=MemoryStore(), audit=None, shared=other_entries)
    rng = np.random.default_rng(_SEED + 2)
    seen: list[float] = []
    try:
        for i in range(rounds):
            key = f"p{i}"
            one.add(key, (rng.standard_normal(128) * 0.09).astype(np.float32))
            t0 = time.perf_counter()
            deadline = t0 + 10
            while key not in other and time.perf_counter() < deadline:
                time.sleep(0.001)
            seen.append((time.perf_counter() - t0) * 1000)
    finally:
        one.close()
        other.close()
        one_entries.erase_all()
        one_entries.close()
        other_entries.close()
    return seen


def run(args: argparse.Namespace, progress: Progress) -> BenchReport:
    from ..face import FaceIndex
    from ..store import MemoryStore, SharedEntries

    report = BenchReport("index")
    n, queries = (10_000, 10) if args.quick else (int(args.size), int(args.queries))
    url = str(args.url)
    keys = Keyring.new_keyring_string()
    keyring = Keyring.from_string(keys)
    namespace = f"vkbench{uuid.uuid4().hex[:8]}"
    report.extra["machine"] = {"cpus": os.cpu_count(), "load_average_1m": round(os.getloadavg()[0], 2)}
    report.extra["size"] = n
    entries = SharedEntries(url, namespace=namespace)
    try:
        progress.stage(f"loading {n:,} sealed encodings into the store", n // _LOAD_BATCH + 1)
        matrix = _matrix(n)
        writer = FaceIndex(keyring, store=MemoryStore(), audit=None, shared=entries, poll_interval=3600)
        t0 = time.perf_counter()
        for start in range(0, n, _LOAD_BATCH):
            stop = min(n, start + _LOAD_BATCH)
            writer.add_matrix([f"s{i}" for i in range(start, stop)], matrix[start:stop])
            progress.step()
        report.extra["load_s"] = round(time.perf_counter() - t0, 1)
        writer.close()
        del writer, matrix

        progress.stage("a restarted sidecar rebuilds its copy, then searches it", 1)
        context = multiprocessing.get_context("spawn")
        results = context.Queue()
        child = context.Process(
            target=_restarted,
            args=(url, namespace, keys),
            kwargs={"n": n, "queries": queries, "out": results},
        )
        child.start()
        measured: dict[str, Any] = results.get()
        child.join()
        progress.step()
        report.add(
            f"rebuild {n:,} from the store, vs a minute (goal <= 1.0)", "s", measured["rebuild_s"], 60.0
        )
        report.add(
            f"copy in memory, {n:,} (beside the bare float32 matrix)",
            "MiB",
            measured["resident_bytes"] / 2**20,
            n * 128 * 4 / 2**20,
        )
        report.add(
            f"search {n:,} (k=5) vs bare matvec (goal <= 1.5)",
            "ms",
            measured["search_ms"],
            measured["matvec_ms"],
        )
        report.extra["copy_size"] = measured["size"]
        report.extra["searches_that_found_their_face"] = f"{measured['found']}/{queries}"

        progress.stage("a change through one copy, seen by another", 1)
        seen = _propagation(url, keyring, 20)
        progress.step()
        report.add(
            "change seen by another copy, p50, vs a second (goal <= 1.0)",
            "ms",
            statistics.median(seen),
            1000.0,
        )
        report.add(
            "change seen by another copy, worst of 20, vs a second (goal <= 1.0)", "ms", max(seen), 1000.0
        )
    finally:
        entries.erase_all()
        entries.close()
    return report
