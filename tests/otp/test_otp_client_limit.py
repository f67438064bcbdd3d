"""A client's limit on email OTP checks is charged before the check reaches the challenge, so
racing checks from one address never spend more attempts than the limit allows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from verifykit import InvalidInput, Reason, WindowPolicy

MakeOTP = Callable[..., Any]


def test_fifty_racing_checks_from_one_client_reach_the_store_at_most_its_limit(
    make_otp: MakeOTP,
) -> None:
    otp = make_otp(client_limit=WindowPolicy(4, 600), max_attempts=20)
    challenge = otp.start("ana", "ana@example.com", client="203.0.113.9")  # one of the 4
    start = threading.Barrier(50)
    reasons: list[Reason] = []
    lock = threading.Lock()

    def check() -> None:
        start.wait()
        verdict = otp.check(challenge.id, "000000", client="203.0.113.9")
        with lock:
            reasons.append(verdict.reason)

    threads = [threading.Thread(target=check) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    attempted = 20 - otp.status(challenge.id).attempts_left
    assert attempted <= 3
    assert reasons.count(Reason.RATE_LIMITED) == 50 - attempted


def test_a_client_address_longer_than_256_characters_is_refused(make_otp: MakeOTP) -> None:
    otp = make_otp(client_limit=WindowPolicy(4, 600))
    with pytest.raises(InvalidInput):
        otp.start("ana", "ana@example.com", client="x" * 257)
