"""Limits hold across processes that share a Redis store, as they must across machines."""

from __future__ import annotations

import multiprocessing as mp
import uuid

import pytest

from verifykit import Keyring, Reason
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStatus, open_store
from verifykit.testing import Outbox, last_code

WORKERS = 4
TRIES_PER_WORKER = 5


def _wrong_codes(url: str, namespace: str, keys: str, challenge_id: str, code: str, out: mp.Queue) -> None:
    otp = EmailOTP(
        store=open_store(url, namespace=namespace),
        keyring=Keyring.from_string(keys),
        mailer=Outbox(),
        audit=None,
    )
    reasons = []
    for i in range(TRIES_PER_WORKER):
        wrong = f"{(int(code) + 1 + i) % 10**6:06d}"
        reasons.append(otp.check(challenge_id, wrong).reason.value)
    out.put(reasons)


@pytest.mark.parametrize("url_fixture", ["redis_url", "redis_cluster_url"])
def test_wrong_codes_from_several_processes_never_overspend_attempts(
    url_fixture: str, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue(url_fixture)
    namespace = f"t{uuid.uuid4().hex[:12]}"
    keys = Keyring.new_keyring_string("k1")
    outbox = Outbox()
    otp = EmailOTP(
        store=open_store(url, namespace=namespace),
        keyring=Keyring.from_string(keys),
        mailer=outbox,
        settings=OTPSettings(max_attempts=5),
        audit=None,
    )
    ch = otp.start("user-1", "a@example.com")
    code = last_code(outbox)

    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_wrong_codes, args=(url, namespace, keys, ch.id, code, out))
        for _ in range(WORKERS)
    ]
    for p in procs:
        p.start()
    reasons = [r for _ in procs for r in out.get(timeout=60)]
    for p in procs:
        p.join(timeout=30)

    # Exactly five attempts are spent: four wrong codes, then the fifth denies; every later
    # check finds the challenge closed.
    assert reasons.count(Reason.WRONG_CODE.value) == 4
    assert reasons.count(Reason.ATTEMPTS_EXHAUSTED.value) == WORKERS * TRIES_PER_WORKER - 4
    final = otp.status(ch.id)
    assert final.status is ChallengeStatus.DENIED
    assert final.attempts_left == 0
    assert not otp.check(ch.id, code).approved
