"""A client's limit on email OTP checks is charged before the check reaches the challenge, so
racing checks from one address never spend more attempts than the limit allows."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from verifykit import InvalidInput, Reason, WindowPolicy
from verifykit.otp import EmailOTP
from verifykit.store import ChallengeStore

MakeOTP = Callable[..., EmailOTP]


def _count_attempts(store: ChallengeStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = store.attempt

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store, "attempt", counted)
    return calls


def test_fifty_racing_checks_from_one_client_reach_the_store_at_most_its_limit(
    make_otp: MakeOTP, store: ChallengeStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    otp = make_otp(client_limit=WindowPolicy(4, 600), max_attempts=20)
    challenge = otp.start("ana", "ana@example.com", client="203.0.113.9")  # one of the 4
    attempted = _count_attempts(store, monkeypatch)
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
    assert len(attempted) <= 3
    assert reasons.count(Reason.RATE_LIMITED) == 50 - len(attempted)


def test_a_client_address_longer_than_256_characters_is_refused(make_otp: MakeOTP) -> None:
    otp = make_otp(client_limit=WindowPolicy(4, 600))
    with pytest.raises(InvalidInput):
        otp.start("ana", "ana@example.com", client="x" * 257)
