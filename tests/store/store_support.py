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


def attempt_in_process(
    url: str, namespace: str, challenge_id: str, tries: int, start: Any, results: Any
) -> None:
    """A separate process submitting wrong digests (multiprocessing, spawn start method)."""
    from verifykit.store import LockoutPolicy, open_store

    store = open_store(url, namespace=namespace)
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
