"""Helpers for the store suite: challenge ids and records shaped as verifiers make them."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from verifykit.store import ChallengeStore, NewChallenge

# A little past a deadline on a real clock: Redis judges expiry to the millisecond.
SLACK = 0.05
RIGHT = "k1:right"
WRONG = "k1:wrong"


@dataclass(frozen=True)
class Backend:
    """A store under test and how to move its clock forward."""

    name: str
    url: str
    store: ChallengeStore
    advance: Callable[[float], None]


def real_time(seconds: float) -> None:
    time.sleep(seconds + SLACK)


def new_tag() -> str:
    """A subject tag shaped like verifykit's (26 base32 characters)."""
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz234567") for _ in range(26))


def new_id(tag: str | None = None) -> str:
    """A challenge id "TAG.RANDOM" as verifiers make them."""
    return f"{tag or new_tag()}.{secrets.token_urlsafe(16)}"


def lock_key(challenge_id: str) -> str:
    """The per-subject lockout key that shares the challenge's hash tag, as verifiers build it."""
    return f"{{{challenge_id.split('.', 1)[0]}}}:fail:otp"


def challenge(
    challenge_id: str | None = None,
    *,
    secret: str = RIGHT,
    ttl: float = 600.0,
    max_attempts: int = 5,
    resend_after: float = 30.0,
    destination: str = "a***@example.com",
    data: dict[str, str] | None = None,
) -> NewChallenge:
    return NewChallenge(
        id=challenge_id or new_id(),
        kind="email_otp",
        subject="subject-1",
        secret=secret,
        ttl=ttl,
        max_attempts=max_attempts,
        resend_after=resend_after,
        destination=destination,
        data=data or {},
    )


def open_flavour(url: str, namespace: str, flavour: str, **options: Any) -> Any:
    """A store of either flavour behind the sync methods (in a process of its own, or a test that
    must not remove keys afterwards)."""
    from flavours import AsyncDriven
    from verifykit.store import open_async_store, open_store

    if flavour == "async":
        return AsyncDriven(open_async_store(url, namespace=namespace, **options))
    return open_store(url, namespace=namespace, **options)


def attempt_in_process(
    url: str, namespace: str, flavour: str, challenge_id: str, tries: int, start: Any, results: Any
) -> None:
    """A separate process submitting wrong digests (multiprocessing, spawn start method)."""
    from verifykit.store import LockoutPolicy

    store = open_flavour(url, namespace, flavour)
    policy = LockoutPolicy(threshold=100, hard_cap=100)
    outcomes = []
    try:
        start.wait()
        for _ in range(tries):
            outcome, record, _ = store.attempt(
                challenge_id, [WRONG], lockout_key=lock_key(challenge_id), lockout=policy
            )
            outcomes.append((outcome.value, None if record is None else record.attempts_left))
    finally:
        store.close()
        results.put(outcomes)


def race_in_process(
    url: str, namespace: str, flavour: str, challenge_id: str, racers: int, start: Any, results: Any
) -> None:
    """A separate process sending the right digest from ``racers`` callers at once: threads on
    the sync store, tasks in one event loop on the async store."""
    import asyncio
    import threading

    outcomes: list[str] = []
    try:
        if flavour == "async":
            outcomes = asyncio.run(_race_tasks(url, namespace, challenge_id, racers, start))
        else:
            store = open_flavour(url, namespace, flavour)
            barrier = threading.Barrier(racers)

            def race() -> None:
                barrier.wait()
                outcomes.append(store.attempt(challenge_id, [RIGHT])[0].value)

            threads = [threading.Thread(target=race) for _ in range(racers)]
            store.now()  # connected before the start
            start.wait()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            store.close()
    finally:
        results.put(outcomes)


async def _race_tasks(url: str, namespace: str, challenge_id: str, racers: int, start: Any) -> list[str]:
    import asyncio

    from verifykit.store import open_async_store as open_store

    async with open_store(url, namespace=namespace) as store:
        await store.now()  # connected before the start
        await asyncio.to_thread(start.wait)
        replies = await asyncio.gather(*(store.attempt(challenge_id, [RIGHT]) for _ in range(racers)))
    return [outcome.value for outcome, _, _ in replies]
