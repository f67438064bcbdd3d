"""Traffic for the fault tests: checks racing from many threads or many asyncio tasks, and a tally
of what each returned, to judge afterwards against what the store holds."""

from __future__ import annotations

import asyncio
import random
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from verifykit import StoreUnavailable
from verifykit.store import AsyncChallengeStore, AttemptOutcome, ChallengeStore, LockoutPolicy, NewChallenge

__all__ = ["PATIENCE", "Tally", "Traffic", "open_challenges", "right", "wrong"]

# How long a wait for the traffic to move may take before the run counts as stuck: far beyond
# every timeout the tests configure, so only a hang reaches it, however loaded the machine is.
PATIENCE = 60.0

# A check is right this often; the rest are wrong guesses.
RIGHT_SHARE = 0.2
# Enough attempts that wrong guesses never exhaust a challenge in a short run.
MAX_ATTEMPTS = 100_000
# The loosest lockout allowed: each challenge has a subject of its own, approved long before it locks.
POLICY = LockoutPolicy(threshold=100, hard_cap=100)


def right(challenge_id: str) -> str:
    return f"k1:right-{challenge_id}"


def wrong() -> str:
    return f"k1:wrong-{secrets.token_hex(4)}"


def open_challenges(store: ChallengeStore, count: int) -> list[str]:
    """``count`` pending challenges, each of its own subject tag."""
    ids = []
    for _ in range(count):
        tag = secrets.token_hex(13)
        challenge_id = f"{tag}.{secrets.token_urlsafe(16)}"
        new = NewChallenge(
            id=challenge_id,
            kind="fault",
            subject=tag,
            secret=right(challenge_id),
            ttl=600,
            max_attempts=MAX_ATTEMPTS,
            resend_after=30,
        )
        store.create(new, retention=600)
        ids.append(challenge_id)
    return ids


@dataclass
class Tally:
    """What every check returned, from every worker."""

    approvals: Counter[str] = field(default_factory=Counter)
    spent: Counter[str] = field(default_factory=Counter)  # answered checks that spent an attempt
    wrong_approvals: list[str] = field(default_factory=list)
    answered: int = 0
    unavailable: int = 0
    slowest_failure: float = 0.0  # reported, never judged: it measures the machine's load too
    # What each failure was raised from (NoneType: the store refused on its own, with no driver error).
    causes: Counter[type[object]] = field(default_factory=Counter)
    foreign: list[BaseException] = field(default_factory=list)  # anything but StoreUnavailable
    last_answer: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, challenge_id: str, right_guess: bool, outcome: Any, elapsed: float, error: BaseException | None
    ) -> None:
        with self.lock:
            if error is None:
                self.answered += 1
                self.last_answer = time.monotonic()
                if outcome in (AttemptOutcome.APPROVED, AttemptOutcome.WRONG):
                    self.spent[challenge_id] += 1
                if outcome == AttemptOutcome.APPROVED:
                    self.approvals[challenge_id] += 1
                    if not right_guess:
                        self.wrong_approvals.append(challenge_id)
            elif isinstance(error, StoreUnavailable):
                self.unavailable += 1
                self.causes[type(error.__cause__)] += 1
                self.slowest_failure = max(self.slowest_failure, elapsed)
            else:
                self.foreign.append(error)


def _guess(ids: list[str], rng: random.Random) -> tuple[str, bool, str]:
    challenge_id = rng.choice(ids)
    guessed_right = rng.random() < RIGHT_SHARE
    return challenge_id, guessed_right, right(challenge_id) if guessed_right else wrong()


def _lockout_key(challenge_id: str) -> str:
    return "{" + challenge_id.split(".", 1)[0] + "}:fail:fault"


class Traffic:
    """Workers checking ``ids`` until stopped: ``threads`` threads on a sync store, or ``tasks``
    asyncio tasks on an async store in a loop of their own (a thread)."""

    def __init__(
        self,
        ids: list[str],
        *,
        store: ChallengeStore | None = None,
        astore: Callable[[], AsyncChallengeStore] | None = None,
        workers: int,
    ) -> None:
        self.ids = ids
        self.tally = Tally()
        self._stop = threading.Event()
        self._store = store
        self._astore = astore
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self.probe: Callable[[], float]

    # -- sync: threads ----------------------------------------------------------------------

    def _thread(self, seed: int) -> None:
        assert self._store is not None
        rng = random.Random(seed)
        while not self._stop.is_set():
            challenge_id, guessed_right, candidate = _guess(self.ids, rng)
            t0 = time.monotonic()
            try:
                outcome, _, _ = self._store.attempt(
                    challenge_id, [candidate], lockout_key=_lockout_key(challenge_id), lockout=POLICY
                )
            except BaseException as exc:
                self.tally.record(challenge_id, guessed_right, None, time.monotonic() - t0, exc)
            else:
                self.tally.record(challenge_id, guessed_right, outcome, time.monotonic() - t0, None)

    # -- async: tasks -----------------------------------------------------------------------

    async def _task(self, store: AsyncChallengeStore, seed: int) -> None:
        rng = random.Random(seed)
        while not self._stop.is_set():
            challenge_id, guessed_right, candidate = _guess(self.ids, rng)
            t0 = time.monotonic()
            try:
                outcome, _, _ = await store.attempt(
                    challenge_id, [candidate], lockout_key=_lockout_key(challenge_id), lockout=POLICY
                )
            except Exception as exc:
                self.tally.record(challenge_id, guessed_right, None, time.monotonic() - t0, exc)
            else:
                self.tally.record(challenge_id, guessed_right, outcome, time.monotonic() - t0, None)

    async def _tasks(self, ready: threading.Event) -> None:
        assert self._astore is not None
        self._loop = asyncio.get_running_loop()
        async with self._astore() as store:
            self._async_store = store
            ready.set()
            await asyncio.gather(*(self._task(store, seed) for seed in range(self._workers)))

    # -- control ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._store is not None:
            store = self._store
            self.probe = store.now
            for seed in range(self._workers):
                thread = threading.Thread(target=self._thread, args=(seed,), daemon=True)
                thread.start()
                self._threads.append(thread)
            return
        ready = threading.Event()
        thread = threading.Thread(target=asyncio.run, args=(self._tasks(ready),), daemon=True)
        thread.start()
        self._threads.append(thread)
        if not ready.wait(10):
            raise RuntimeError("the async workers did not start")

        def probe() -> float:
            assert self._loop is not None
            return asyncio.run_coroutine_threadsafe(self._async_store.now(), self._loop).result()

        self.probe = probe

    def wait_for_answers(self, count: int, timeout: float = PATIENCE) -> None:
        """Until ``count`` more checks were answered (the store works), or fail."""
        target = self.tally.answered + count
        deadline = time.monotonic() + timeout
        while self.tally.answered < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} checks answered within {timeout} s")
            time.sleep(0.01)

    def wait_for_failures(self, count: int, timeout: float = PATIENCE) -> None:
        """Until ``count`` more checks failed as StoreUnavailable (the fault reached the callers), or fail."""
        target = self.tally.unavailable + count
        deadline = time.monotonic() + timeout
        while self.tally.unavailable < target:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} checks failed within {timeout} s")
            time.sleep(0.01)

    def recovery(self, timeout: float = PATIENCE) -> float:
        """Seconds until a call made in this process answers again (polling), or fail."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            try:
                self.probe()
                return time.monotonic() - t0
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the store did not recover within {timeout} s") from None
                time.sleep(0.01)

    def stop(self) -> Tally:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
            if thread.is_alive():
                raise AssertionError("a worker hung after the run was stopped")
        return self.tally
