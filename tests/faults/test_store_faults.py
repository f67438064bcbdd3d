"""Store faults between verifykit and Redis, through a TCP fault proxy on loopback.

For each fault (slow replies, dropped connections, a reset in the middle of a reply, a black
hole), while checks race from many threads (sync) or many asyncio tasks (async): no wrong code
is approved, no challenge is lost or approved twice, every failed call raises StoreUnavailable
from what should stop it (the configured socket timeout for a store that does not answer, the
closed connection for one that hangs up), and once the fault ends the same store answers again,
without a restart.

A fault lasts until it has failed a number of calls, not for a time: on a loaded machine a
fault of fixed seconds may fail none. Waits poll with a deadline far past every timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from judge import CLOSED, TIMED_OUT, assert_guarantees
from proxy import FaultProxy
from workload import Traffic, open_challenges

from verifykit.store import open_async_store

SOCKET_TIMEOUT = 0.25  # socket_timeout and socket_connect_timeout of the store under test
FAULTS: dict[str, Callable[[FaultProxy], None]] = {
    "delay": lambda proxy: proxy.delay(SOCKET_TIMEOUT * 2),  # replies later than the timeout
    "drop": FaultProxy.drop,
    "reset": FaultProxy.reset,
    "blackhole": FaultProxy.blackhole,
}
# A store that answers late or never is given up on by its socket timeout; one that hangs up, by
# the closed connection.
STOPPED_BY = {"delay": TIMED_OUT, "blackhole": TIMED_OUT, "drop": CLOSED, "reset": CLOSED}


@dataclass(frozen=True)
class Run:
    workers: int
    challenges: int
    failures: int  # calls each fault fails before it ends
    rounds: int


SHORT = Run(workers=8, challenges=40, failures=16, rounds=1)
LONG = Run(workers=48, challenges=400, failures=960, rounds=3)


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
            traffic.wait_for_answers(run.workers * 2)
            FAULTS[fault](proxy)
            traffic.wait_for_failures(run.failures)  # the fault lasts while the checks go on
            proxy.heal()
            recovered = traffic.recovery()
            print(f"{fault} {flavour}: answered again {recovered:.3f} s after the fault ended")
            traffic.wait_for_answers(run.workers * 2)
    finally:
        proxy.heal()
        tally = traffic.stop()
    assert tally.unavailable >= run.failures * run.rounds, "the fault never reached the store's callers"
    print(f"{fault} {flavour}: {tally.unavailable} failed, slowest {tally.slowest_failure:.3f} s")
    assert_guarantees(tally, ids, truth, stopped_by=STOPPED_BY[fault])


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
