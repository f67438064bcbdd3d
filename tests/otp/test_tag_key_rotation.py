"""Retiring a sealing key, even in a hurry after a leak, leaves every subject's counters in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import Keyring, RateLimited
from verifykit.otp import OTPSettings
from verifykit.store import ChallengeStore, LockoutPolicy, WindowPolicy
from verifykit.testing import Outbox, last_code

_LOCKOUT = LockoutPolicy(threshold=3, lockout=60, lockout_max=3600, hard_cap=100)


@pytest.fixture
def keyed_otp(otp_for: Callable[..., Any], store: ChallengeStore, outbox: Outbox) -> Callable[..., Any]:
    """``keyed_otp(keys, **settings)``: an EmailOTP of each flavour under the keyring string ``keys``."""

    def make(keys: str, **settings: Any) -> Any:
        return otp_for(
            store=store,
            keyring=Keyring.from_string(keys),
            mailer=outbox,
            settings=OTPSettings(**settings),
            audit=None,
        )

    return make


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_lockout_survives_retiring_the_oldest_sealing_key(
    keyed_otp: Callable[..., Any], outbox: Outbox
) -> None:
    tag, k1, k2 = (Keyring.new_key_string(kid) for kid in ("tag", "k1", "k2"))
    # The tag entry last: wherever it stands, it alone names the subject's counters.
    before = keyed_otp(f"{k1},{k2},{tag}", lockout=_LOCKOUT)
    ch = before.start("user-1", "a@example.com")
    for _ in range(_LOCKOUT.threshold):
        before.check(ch.id, _wrong(last_code(outbox)))

    after = keyed_otp(f"{k2},{tag}", lockout=_LOCKOUT)
    with pytest.raises(RateLimited) as caught:
        after.start("user-1", "a@example.com")
    assert caught.value.reason == "locked_out"


def test_a_destination_window_survives_retiring_the_oldest_sealing_key(keyed_otp: Callable[..., Any]) -> None:
    tag, k1, k2 = (Keyring.new_key_string(kid) for kid in ("tag", "k1", "k2"))
    limit = WindowPolicy(limit=2, window=600)
    before = keyed_otp(f"{k1},{k2},{tag}", destination_limit=limit, subject_limit=None)
    for n in range(limit.limit):
        before.start(f"user-{n}", "a@example.com")

    after = keyed_otp(f"{k2},{tag}", destination_limit=limit, subject_limit=None)
    with pytest.raises(RateLimited) as caught:
        after.start("user-9", "a@example.com")
    assert caught.value.reason == "destination_limit"
