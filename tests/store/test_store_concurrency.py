"""Atomicity under contention, in both flavours: threads (tasks in one loop, for the async
store) on every backend, separate processes on Redis."""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from store_support import RIGHT, attempt_in_process, challenge, lock_key, race_in_process

from verifykit.store import (
    AsyncChallengeStore,
    AttemptOutcome,
    ChallengeRecord,
    ChallengeStatus,
    ChallengeStore,
    LockoutPolicy,
    WindowPolicy,
)

T = TypeVar("T")


def _at_once(n: int, fn: Callable[[], T]) -> list[T]:
    """Run ``fn`` in ``n`` threads released together; their results."""
    barrier = threading.Barrier(n)
    results: list[T] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        result = fn()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == n
    return results


def test_fifty_threads_with_the_right_digest_get_exactly_one_approval(store: ChallengeStore) -> None:
    new = challenge(max_attempts=5)
    store.create(new, retention=60)
    outcomes = Counter(o for o, _, _ in _at_once(50, lambda: store.attempt(new.id, [RIGHT])))
    assert outcomes == {AttemptOutcome.APPROVED: 1, AttemptOutcome.CLOSED: 49}
    record = store.get(new.id)
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.APPROVED, 4)


def test_a_window_under_twenty_threads_admits_exactly_its_limit(store: ChallengeStore) -> None:
    policy = WindowPolicy(limit=7, window=60)
    results = _at_once(20, lambda: store.hit("dest:contended", policy))
    assert sorted(r.count for r in results if r.allowed) == list(range(1, 8))
    assert all(r.count == 7 and r.retry_after > 0 for r in results if not r.allowed)
    assert store.hit("dest:contended", policy, cost=0).count == 7


def test_concurrent_charges_never_pass_the_hard_cap(store: ChallengeStore) -> None:
    policy = LockoutPolicy(threshold=10, hard_cap=10)
    results = _at_once(30, lambda: store.charge("subject:contended", policy))
    assert sum(r.allowed for r in results) == 10
    assert sorted(r.failures for r in results if r.allowed) == list(range(1, 11))
    assert store.failure_state("subject:contended").failures == 10


async def _race_right_digests(
    store: AsyncChallengeStore, racers: int
) -> tuple[Counter[AttemptOutcome], ChallengeRecord | None]:
    new = challenge(max_attempts=5)
    async with store:
        await store.create(new, retention=60)
        replies = await asyncio.gather(*(store.attempt(new.id, [RIGHT]) for _ in range(racers)))
        record = await store.get(new.id)
    return Counter(outcome for outcome, _, _ in replies), record


def test_fifty_tasks_in_one_loop_with_the_right_digest_get_exactly_one_approval(
    store_url: str, make_async_store: Callable[..., AsyncChallengeStore]
) -> None:
    outcomes, record = asyncio.run(_race_right_digests(make_async_store(store_url), 50))
    assert outcomes == {AttemptOutcome.APPROVED: 1, AttemptOutcome.CLOSED: 49}
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.APPROVED, 4)


def _in_processes(
    target: Callable[..., None],
    url: str,
    namespace: str,
    flavour: str,
    challenge_id: str,
    per: int,
    count: int,
) -> list[Any]:
    """Run ``target`` in ``count`` spawned processes released together; everything they reported."""
    spawn = multiprocessing.get_context("spawn")
    start, results = spawn.Event(), spawn.Queue()
    workers = [
        spawn.Process(target=target, args=(url, namespace, flavour, challenge_id, per, start, results))
        for _ in range(count)
    ]
    for w in workers:
        w.start()
    start.set()
    seen = [item for _ in workers for item in results.get(timeout=120)]
    for w in workers:
        w.join(timeout=60)
    return seen


@pytest.fixture(params=["redis_url", "redis_cluster_url"])
def shared_url(request: pytest.FixtureRequest) -> str:
    """A store that separate processes share: one Redis server, or a Redis Cluster."""
    return str(request.getfixturevalue(request.param))


def test_processes_submitting_wrong_digests_spend_exactly_the_attempt_budget(
    shared_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]
) -> None:
    store = make_store(shared_url)
    new = challenge(max_attempts=8)
    store.create(new, retention=60)
    processes, tries = 4, 5
    seen = _in_processes(
        attempt_in_process, shared_url, store.namespace, store_flavour, new.id, tries, processes
    )
    assert len(seen) == processes * tries
    outcomes = Counter(outcome for outcome, _ in seen)
    assert outcomes == {"wrong": 7, "exhausted": 1, "closed": processes * tries - 8}
    assert min(left for _, left in seen if left is not None) == 0
    record = store.get(new.id)
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.DENIED, 0)
    # Only the spent attempts were charged to the subject.
    assert store.failure_state(lock_key(new.id)).failures == 8


def test_two_processes_of_twenty_five_racing_the_right_digest_get_exactly_one_approval(
    shared_url: str, store_flavour: str, make_store: Callable[..., ChallengeStore]
) -> None:
    store = make_store(shared_url)
    new = challenge(max_attempts=5)
    store.create(new, retention=60)
    seen = _in_processes(race_in_process, shared_url, store.namespace, store_flavour, new.id, 25, 2)
    assert Counter(seen) == {"approved": 1, "closed": 49}
    record = store.get(new.id)
    assert record is not None and (record.status, record.attempts_left) == (ChallengeStatus.APPROVED, 4)
