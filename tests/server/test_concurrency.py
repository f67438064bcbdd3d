"""100 clients at once against one sidecar on Redis: every verdict right, every limit exact."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sidecars import Running, Serve

from verifykit import Reason
from verifykit.aio import AsyncChallengeStore
from verifykit.client import Client
from verifykit.store import ChallengeStatus
from verifykit.testing import code_in

CLIENTS = 100
T = TypeVar("T")


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(0..count-1)`` on ``count`` threads released together."""
    gate = threading.Barrier(count)

    def run(n: int) -> T:
        gate.wait()
        return work(n)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def sidecar_on_redis(
    serve: Serve, make_async_store: Callable[..., AsyncChallengeStore], redis_url: str
) -> Running:
    return serve(store=make_async_store(redis_url), workers=64, heavy_workers=1, heavy_queue=1)


def code_for(running: Running, address: str) -> str:
    for message in reversed(running.outbox.messages):
        if message["To"] == address:
            return code_in(message)
    raise AssertionError(f"no message to {address}")


def test_100_clients_each_start_and_check_with_every_verdict_right(
    serve: Serve, make_async_store: Callable[..., AsyncChallengeStore], redis_url: str
) -> None:
    running = sidecar_on_redis(serve, make_async_store, redis_url)

    def applicant(n: int) -> tuple[Any, ...]:
        address = f"applicant{n}@example.com"
        with Client(running.target, timeout=30) as client:
            challenge = client.email_otp.start(f"applicant-{n}", address)
            code = code_for(running, address)
            wrong = f"{(int(code) + 1) % 10**6:06d}"
            first = client.email_otp.check(challenge.id, wrong)
            second = client.email_otp.check(challenge.id, code)
            third = client.email_otp.check(challenge.id, code)
            return (
                (first.reason, first.attempts_left),
                (second.reason, second.attempts_left),
                third.reason,
                client.email_otp.status(challenge.id).status,
            )

    outcomes = at_once(CLIENTS, applicant)
    assert (
        outcomes
        == [((Reason.WRONG_CODE, 4), (Reason.APPROVED, None), Reason.REPLAYED, ChallengeStatus.APPROVED)]
        * CLIENTS
    )
    assert len(running.outbox) == CLIENTS


def test_100_clients_racing_the_right_code_get_exactly_one_approval(
    serve: Serve, make_async_store: Callable[..., AsyncChallengeStore], redis_url: str
) -> None:
    running = sidecar_on_redis(serve, make_async_store, redis_url)
    challenge = running.client.email_otp.start("applicant-1", "ana@example.com")
    code = code_for(running, "ana@example.com")

    def check(_n: int) -> Reason:
        with Client(running.target, timeout=30) as client:
            return client.email_otp.check(challenge.id, code).reason

    assert Counter(at_once(CLIENTS, check)) == {Reason.APPROVED: 1, Reason.REPLAYED: CLIENTS - 1}


def test_100_clients_racing_wrong_codes_spend_exactly_the_attempt_budget(
    serve: Serve, make_async_store: Callable[..., AsyncChallengeStore], redis_url: str
) -> None:
    running = sidecar_on_redis(serve, make_async_store, redis_url)
    challenge = running.client.email_otp.start("applicant-1", "ana@example.com")
    code = code_for(running, "ana@example.com")
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    def check(_n: int) -> tuple[Reason, int | None]:
        with Client(running.target, timeout=30) as client:
            verdict = client.email_otp.check(challenge.id, wrong)
            return verdict.reason, verdict.attempts_left

    verdicts = at_once(CLIENTS, check)
    # Five attempts: four wrong codes leave 4, 3, 2, 1; the fifth exhausts the challenge, and
    # every later check is told so. No attempt is spent twice, none is lost.
    wrong_left = sorted(left for reason, left in verdicts if reason is Reason.WRONG_CODE)
    assert wrong_left == [1, 2, 3, 4]
    assert Counter(reason for reason, _ in verdicts)[Reason.ATTEMPTS_EXHAUSTED] == CLIENTS - 4
    final = running.client.email_otp.status(challenge.id)
    assert (final.status, final.attempts_left) == (ChallengeStatus.DENIED, 0)
    assert running.client.email_otp.check(challenge.id, code).approved is False
