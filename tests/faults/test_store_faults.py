"""Store faults between verifykit and Redis, through a TCP fault proxy on loopback.

For each fault (slow replies, dropped connections, a reset in the middle of a reply, a black
hole), while checks race from many threads (sync) or many asyncio tasks (async): no wrong code
is approved, no challenge is lost or approved twice, every failed call raises StoreUnavailable
within the configured timeouts, and once the fault ends the same store answers again within
them, without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from judge import SCHEDULING_SLACK, assert_guarantees
from proxy import FaultProxy
from workload import Traffic, open_challenges

from verifykit.aio._store import open_store as open_async_store

SOCKET_TIMEOUT = 0.25  # socket_timeout and socket_connect_timeout of the store under test
FAULTS: dict[str, Callable[[FaultProxy], None]] = {
    "delay": lambda proxy: proxy.delay(SOCKET_TIMEOUT * 2),  # replies later than the timeout
    "drop": FaultProxy.drop,
    "reset": FaultProxy.reset,
    "blackhole": FaultProxy.blackhole,
}


@dataclass(frozen=True)
class Run:
    workers: int
    challenges: int
    fault_seconds: float
    rounds: int


SHORT = Run(workers=8, challenges=40, fault_seconds=0.6, rounds=1)
LONG = Run(workers=48, challenges=400, fault_seconds=5.0, rounds=3)


def _bound() -> float:
    """The longest a failed call may take: a connect and a reply, each within the socket timeout."""
    return 2 * SOCKET_TIMEOUT + SCHEDULING_SLACK


def _run_fault(fault: str, flavour: str, proxy: FaultProxy, redis_url: str, make_store, run: Run) -> None:
    query = f"socket_timeout={SOCKET_TIMEOUT}&socket_connect_timeout={SOCKET_TIMEOUT}"
    truth = make_store(redis_url)  # straight to Redis: what the store really holds
    namespace = truth.namespace
    ids = open_challenges(truth, run.challenges)
    url = proxy.url(query=query)
    if flavour == "sync":
        traffic = Traffic(ids, store=make_store(url, namespace=namespace), workers=run.workers)
    else:
        traffic = Traffic(ids, astore=lambda: open_async_store(url, namespace=namespace), workers=run.workers)
    traffic.start()
    try:
        for _ in range(run.rounds):
            traffic.wait_for_answers(run.workers * 2, timeout=10)
            FAULTS[fault](proxy)
            time.sleep(run.fault_seconds)  # the fault lasts this long while the checks go on
            proxy.heal()
            recovered = traffic.recovery(timeout=_bound())
            assert recovered <= _bound()
            print(f"{fault} {flavour}: answered again {recovered:.3f} s after the fault ended")
            traffic.wait_for_answers(run.workers * 2, timeout=10)
    finally:
        proxy.heal()
        tally = traffic.stop()
    assert tally.unavailable > 0, "the fault never reached the store's callers"
    print(f"{fault} {flavour}: {tally.unavailable} failed, slowest {tally.slowest_failure:.3f} s")
    assert_guarantees(tally, ids, truth, call_bound=_bound())


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_store_fails_closed_and_recovers_under_fault(
    fault: str, flavour: str, fault_proxy: FaultProxy, redis_url: str, make_store
) -> None:
    _run_fault(fault, flavour, fault_proxy, redis_url, make_store, SHORT)


@pytest.mark.long
@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_store_fails_closed_and_recovers_under_long_faults(
    fault: str, flavour: str, fault_proxy: FaultProxy, redis_url: str, make_store
) -> None:
    _run_fault(fault, flavour, fault_proxy, redis_url, make_store, LONG)
