"""Limits hold across processes that share a Redis store, as they must across machines, in both flavours."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
import uuid
from collections.abc import Callable

import pytest

from verifykit import Keyring, Reason, aio
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStatus, open_store
from verifykit.testing import Outbox, last_code

WORKERS = 4
TRIES_PER_WORKER = 5
RACERS = 2
CHECKS_PER_RACER = 25


def _checks(
    flavour: str, url: str, namespace: str, keys: str, challenge_id: str, codes: list[str]
) -> list[str]:
    """Check ``codes`` concurrently: threads on the sync flavour, tasks in one loop on the async one."""
    if flavour == "sync":
        otp = EmailOTP(
            store=open_store(url, namespace=namespace),
            keyring=Keyring.from_string(keys),
            mailer=Outbox(),
            audit=None,
        )
        reasons: list[str] = []
        threads = [
            threading.Thread(target=lambda c=c: reasons.append(otp.check(challenge_id, c).reason.value))
            for c in codes
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return reasons

    async def main() -> list[str]:
        async with aio.open_store(url, namespace=namespace) as store:
            otp = aio.EmailOTP(store=store, keyring=Keyring.from_string(keys), mailer=Outbox(), audit=None)
            verdicts = await asyncio.gather(*(otp.check(challenge_id, c) for c in codes))
        return [v.reason.value for v in verdicts]

    return asyncio.run(main())


def _worker(
    flavour: str, url: str, namespace: str, keys: str, cid: str, codes: list[str], out: mp.Queue
) -> None:
    out.put(_checks(flavour, url, namespace, keys, cid, codes))


def _race(
    url: str, flavour: str, workers: int, codes_for: Callable[[str, int], list[str]], **settings: int
) -> tuple[list[str], object]:
    namespace = f"t{uuid.uuid4().hex[:12]}"
    keys = Keyring.new_keyring_string("k1")
    outbox = Outbox()
    otp = EmailOTP(
        store=open_store(url, namespace=namespace),
        keyring=Keyring.from_string(keys),
        mailer=outbox,
        settings=OTPSettings(**settings),
        audit=None,
    )
    ch = otp.start("user-1", "a@example.com")
    code = last_code(outbox)
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(flavour, url, namespace, keys, ch.id, codes_for(code, i), out))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    reasons = [r for _ in procs for r in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)
    return reasons, (otp, ch.id, code)


@pytest.mark.parametrize("flavour", ["sync", "async"])
@pytest.mark.parametrize("url_fixture", ["redis_url", "redis_cluster_url"])
def test_wrong_codes_from_several_processes_never_overspend_attempts(
    url_fixture: str, flavour: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(url_fixture)

    def wrong_codes(code: str, worker: int) -> list[str]:
        return [
            f"{(int(code) + 1 + worker * TRIES_PER_WORKER + i) % 10**6:06d}" for i in range(TRIES_PER_WORKER)
        ]

    reasons, (otp, cid, code) = _race(url, flavour, WORKERS, wrong_codes, max_attempts=5)

    # Exactly five attempts are spent: four wrong codes, then the fifth denies; every later
    # check finds the challenge closed.
    assert reasons.count(Reason.WRONG_CODE.value) == 4
    assert reasons.count(Reason.ATTEMPTS_EXHAUSTED.value) == WORKERS * TRIES_PER_WORKER - 4
    final = otp.status(cid)
    assert final.status is ChallengeStatus.DENIED
    assert final.attempts_left == 0
    assert not otp.check(cid, code).approved


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_the_right_code_from_two_processes_of_twenty_five_approves_exactly_once(
    redis_url: str, flavour: str
) -> None:
    reasons, _ = _race(
        redis_url, flavour, RACERS, lambda code, _worker: [code] * CHECKS_PER_RACER, max_attempts=20
    )
    assert reasons.count(Reason.APPROVED.value) == 1
    assert set(reasons) == {Reason.APPROVED.value, Reason.REPLAYED.value}
