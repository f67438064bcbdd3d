"""The asyncio PasswordVerifier keeps the event loop free: argon2 runs in threads.

(Every behaviour test of the package runs over this flavour too, through the ``flavour`` fixture;
these are the properties only an event loop has.)
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

from password_support import GOOD

from verifykit import Keyring, aio
from verifykit.password import CHEAP_TESTS_ONLY, MemoryBudget, PasswordSettings
from verifykit.password._hasher import StoredHash

CONCURRENT = 4
# Long enough for any machine to reach the gate, short enough to fail rather than hang.
DEADLINE = 30.0


def test_argon2_work_runs_off_the_event_loop_so_other_tasks_keep_running(keyring: Keyring) -> None:
    """Four verifies are held inside their argon2 work at once; only a loop that keeps running
    (a ticker task) can let them go. Were the work on the loop, the first would block it for good."""

    async def scenario() -> tuple[list[bool], int]:
        pv = aio.PasswordVerifier(
            store=aio.open_store("memory://"),
            keyring=keyring,
            settings=PasswordSettings(preset="cheap_tests_only", client_limit=None),
            audit=None,
        )
        stored = await pv.hash(GOOD)
        real = pv.hasher.verify
        inside = threading.Semaphore(0)
        gate = threading.Event()
        let_go: list[bool] = []

        def gated(target: StoredHash | str, password: str) -> int | None:
            inside.release()
            let_go.append(gate.wait(DEADLINE))
            return real(target, password)

        pv.hasher.verify = gated  # type: ignore[method-assign]
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            arrived = 0
            while arrived < CONCURRENT:
                ticks += 1
                arrived += inside.acquire(blocking=False)
                await asyncio.sleep(0)
            gate.set()  # every verify is inside argon2 at once, and the loop still runs

        verdicts = await asyncio.gather(
            ticker(), *(pv.verify(f"user-{n}", stored, GOOD) for n in range(CONCURRENT))
        )
        approved = [v.approved for v in verdicts[1:] if v is not None]
        return approved + let_go, ticks

    results, ticks = asyncio.run(asyncio.wait_for(scenario(), DEADLINE * 2))
    assert results == [True] * (2 * CONCURRENT)
    assert ticks >= CONCURRENT


def test_verifies_waiting_for_memory_hold_no_thread_so_the_work_they_wait_for_still_runs(
    keyring: Keyring,
) -> None:
    """Room for one hash at a time and two threads for the work: were the waiters parked in those
    threads, the one admitted verify would find none free and every other one would time out."""

    async def scenario() -> list[bool]:
        settings = PasswordSettings(
            preset="cheap_tests_only", memory_budget=CHEAP_TESTS_ONLY.memory_bytes, busy_timeout=DEADLINE
        )
        with ThreadPoolExecutor(max_workers=2) as threads:
            pv = aio.PasswordVerifier(
                store=aio.open_store("memory://"),
                keyring=keyring,
                settings=settings,
                audit=None,
                threads=threads,
            )
            stored = await pv.hash(GOOD)
            verdicts = await asyncio.gather(*(pv.verify(f"user-{n}", stored, GOOD) for n in range(8)))
        assert pv.budget.peak == CHEAP_TESTS_ONLY.memory_bytes
        return [v.approved for v in verdicts]

    assert asyncio.run(scenario()) == [True] * 8


def test_a_task_waits_for_memory_in_the_same_queue_as_threads() -> None:
    budget = MemoryBudget(100)

    async def scenario() -> list[str]:
        order: list[str] = []
        first = budget.reserve(100, timeout=0)
        first.__enter__()

        def thread_caller() -> None:
            with budget.reserve(100, timeout=DEADLINE):
                order.append("thread")

        worker = threading.Thread(target=thread_caller)
        worker.start()
        while budget.waiting < 1:
            await asyncio.sleep(0)
        task = asyncio.ensure_future(budget.reserve_async(100, DEADLINE))
        while budget.waiting < 2:
            await asyncio.sleep(0)
        first.__exit__(None, None, None)
        with await task:
            order.append("task")
        worker.join()
        return order

    assert asyncio.run(scenario()) == ["thread", "task"]
    assert budget.in_flight == 0 and budget.waiting == 0
