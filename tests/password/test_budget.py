"""Memory-budget admission: in-flight argon2 memory never exceeds the budget; beyond it, callers
wait their turn and then get BusyError."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable

import pytest
from password_support import GOOD, MakeVerifier

from verifykit import BusyError, ConfigurationError
from verifykit.password import HashParameters, MemoryBudget, PasswordSettings, default_memory_budget
from verifykit.password._hasher import StoredHash

MIB = 1 << 20


def wait_for(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + 10
    while not condition():
        assert time.monotonic() < deadline, "condition not reached within 10 s"
        time.sleep(0.001)


def test_work_within_the_budget_is_admitted_at_once() -> None:
    budget = MemoryBudget(100)
    with budget.reserve(60, timeout=0), budget.reserve(40, timeout=0):
        assert budget.in_flight == 100
    assert budget.in_flight == 0


def test_work_beyond_the_budget_waits_until_memory_is_released() -> None:
    budget = MemoryBudget(100)
    admitted = threading.Event()

    def second() -> None:
        with budget.reserve(60, timeout=10):
            admitted.set()

    with budget.reserve(60, timeout=0):
        worker = threading.Thread(target=second)
        worker.start()
        wait_for(lambda: budget.waiting == 1)
        assert not admitted.is_set()
    worker.join()
    assert admitted.is_set()


def test_work_that_cannot_be_admitted_in_time_gets_busy_error() -> None:
    budget = MemoryBudget(100)
    with budget.reserve(100, timeout=0):
        with pytest.raises(BusyError) as err, budget.reserve(1, timeout=0.01):
            pass
        assert err.value.retry_after > 0
    assert budget.waiting == 0 and budget.in_flight == 0


def test_callers_are_admitted_in_arrival_order() -> None:
    budget = MemoryBudget(100)
    order: list[str] = []

    def caller(name: str, cost: int) -> None:
        with budget.reserve(cost, timeout=10):
            order.append(name)

    with budget.reserve(60, timeout=0):
        big = threading.Thread(target=caller, args=("big", 60))
        big.start()
        wait_for(lambda: budget.waiting == 1)
        # 30 would fit beside the 60 in flight, but it arrived after "big" and must not overtake it.
        small = threading.Thread(target=caller, args=("small", 30))
        small.start()
        wait_for(lambda: budget.waiting == 2)
        assert order == []
    big.join()
    small.join()
    assert order == ["big", "small"]


def test_one_request_larger_than_the_whole_budget_runs_alone() -> None:
    budget = MemoryBudget(100)
    with budget.reserve(500, timeout=0):
        assert budget.in_flight == 500
        with pytest.raises(BusyError), budget.reserve(1, timeout=0):
            pass


def test_the_default_budget_comes_from_the_machine(cheap: MakeVerifier) -> None:
    assert default_memory_budget() > 0
    assert PasswordSettings().memory_budget is None
    assert cheap().budget.capacity == default_memory_budget()


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5])
def test_a_budget_must_be_a_positive_number_of_bytes(capacity: object) -> None:
    with pytest.raises(ConfigurationError):
        MemoryBudget(capacity)  # type: ignore[arg-type]


def test_concurrent_verifies_never_hold_more_than_the_budget(cheap: MakeVerifier) -> None:
    params = HashParameters(time_cost=1, memory_cost=1024, parallelism=1)
    pv = cheap(preset=params, memory_budget=2 * MIB, busy_timeout=60)
    stored = pv.hash(GOOD)
    results: list[bool] = []

    def login(n: int) -> None:
        results.append(pv.verify(f"user-{n}", stored, GOOD).approved)

    threads = [threading.Thread(target=login, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 12
    assert pv.budget.peak <= 2 * MIB


def test_a_verify_beyond_the_budget_is_busy_and_charges_nothing(cheap: MakeVerifier) -> None:
    pv = cheap(memory_budget=MIB, busy_timeout=0)
    stored = pv.hash(GOOD)
    with pv.budget.reserve(MIB, timeout=0):
        with pytest.raises(BusyError):
            pv.verify("ana", stored, "wrong password")
        with pytest.raises(BusyError):
            pv.hash(GOOD)
    assert pv.verify("ana", stored, "wrong password").budget_left == pv.settings.lockout.threshold - 1


def test_a_success_whose_rehash_finds_no_room_is_approved_without_an_upgrade(
    cheap: MakeVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = cheap().hash(GOOD)
    stronger = HashParameters(time_cost=1, memory_cost=1024, parallelism=1)
    pv = cheap(preset=stronger, memory_budget=1024 * 1024, busy_timeout=0)
    needs_rehash = pv.hasher.needs_rehash
    with contextlib.ExitStack() as other_logins:

        def fill_then_answer(stored: StoredHash) -> bool:
            # Another login takes the whole budget between the verify and the rehash.
            other_logins.enter_context(pv.budget.reserve(1024 * 1024, timeout=0))
            return needs_rehash(stored)

        monkeypatch.setattr(pv.hasher, "needs_rehash", fill_then_answer)
        verdict = pv.verify("ana", old, GOOD)
    assert verdict.approved and verdict.stored is None
    monkeypatch.undo()
    assert pv.verify("ana", old, GOOD).stored is not None
