"""Redis restarts mid-run: kill -9 a redis-server of the test's own and start it again on the
same port. With persistence (appendonly, fsync always) every guarantee of the fault suite holds
and the same store answers again without a restart of its own; without persistence, pending
challenges and lockouts are gone, and what that means is shown here (nothing gets approved)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from judge import CLOSED, TIMED_OUT, assert_guarantees
from workload import POLICY, Traffic, open_challenges, right

from redis_servers import RedisProcess
from verifykit.store import AttemptOutcome, open_async_store

SOCKET_TIMEOUT = 0.25
PERSISTENT = ("--appendonly", "yes", "--appendfsync", "always")
EPHEMERAL = ("--appendonly", "no")


@pytest.fixture
def own_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path, None, *request.param)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _restart_run(server: RedisProcess, flavour: str, make_store, *, workers: int, rounds: int) -> None:
    truth = make_store(server.url)
    ids = open_challenges(truth, 40)
    url = f"{server.url}?socket_timeout={SOCKET_TIMEOUT}&socket_connect_timeout={SOCKET_TIMEOUT}"
    if flavour == "sync":
        traffic = Traffic(ids, store=make_store(url, namespace=truth.namespace), workers=workers)
    else:
        traffic = Traffic(
            ids, astore=lambda: open_async_store(url, namespace=truth.namespace), workers=workers
        )
    traffic.start()
    try:
        for _ in range(rounds):
            traffic.wait_for_answers(workers * 2)
            server.kill()
            server.start(wait=False)
            # Redis loads its append-only file before it answers; then the store must answer too.
            traffic.recovery()
            traffic.wait_for_answers(workers * 2)
    finally:
        tally = traffic.stop()
    assert_guarantees(tally, ids, truth, stopped_by=CLOSED + TIMED_OUT)


@pytest.mark.parametrize("own_redis", [PERSISTENT], indirect=True)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_restart_with_persistence_keeps_every_guarantee(
    own_redis: RedisProcess, flavour: str, make_store
) -> None:
    _restart_run(own_redis, flavour, make_store, workers=6, rounds=1)


@pytest.mark.long
@pytest.mark.parametrize("own_redis", [PERSISTENT], indirect=True)
@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_repeated_restarts_with_persistence_keep_every_guarantee(
    own_redis: RedisProcess, flavour: str, make_store
) -> None:
    _restart_run(own_redis, flavour, make_store, workers=32, rounds=5)


@pytest.mark.parametrize("own_redis", [EPHEMERAL], indirect=True)
def test_restart_without_persistence_forgets_challenges_and_lockouts_but_approves_nothing(
    own_redis: RedisProcess, make_store
) -> None:
    store = make_store(own_redis.url)
    (challenge_id,) = open_challenges(store, 1)
    lockout_key = "{" + challenge_id.split(".", 1)[0] + "}:fail:fault"
    store.charge(lockout_key, POLICY)
    own_redis.kill()
    own_redis.start()

    outcome, _, _ = store.attempt(
        challenge_id, [right(challenge_id)], lockout_key=lockout_key, lockout=POLICY
    )

    assert outcome is AttemptOutcome.MISSING  # the applicant must start again: nothing approved
    assert store.failure_state(lockout_key).failures == 0  # the lockout charge is gone with it
