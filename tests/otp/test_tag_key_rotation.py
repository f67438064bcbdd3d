"""Retiring a sealing key, even in a hurry after a leak, leaves every subject's counters in place."""

from __future__ import annotations

import pytest

from verifykit import Keyring, RateLimited
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStore, LockoutPolicy, WindowPolicy
from verifykit.testing import Outbox, last_code

_LOCKOUT = LockoutPolicy(threshold=3, lockout=60, lockout_max=3600, hard_cap=100)


def _otp(store: ChallengeStore, keys: str, outbox: Outbox, **settings: object) -> EmailOTP:
    return EmailOTP(
        store=store,
        keyring=Keyring.from_string(keys),
        mailer=outbox,
        settings=OTPSettings(**settings),  # type: ignore[arg-type]
        audit=None,
    )


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_a_lockout_survives_retiring_the_oldest_sealing_key(store: ChallengeStore, outbox: Outbox) -> None:
    tag, k1, k2 = (Keyring.new_key_string(kid) for kid in ("tag", "k1", "k2"))
    # The tag entry last: wherever it stands, it alone names the subject's counters.
    before = _otp(store, f"{k1},{k2},{tag}", outbox, lockout=_LOCKOUT)
    ch = before.start("user-1", "a@example.com")
    for _ in range(_LOCKOUT.threshold):
        before.check(ch.id, _wrong(last_code(outbox)))

    after = _otp(store, f"{k2},{tag}", outbox, lockout=_LOCKOUT)
    with pytest.raises(RateLimited) as caught:
        after.start("user-1", "a@example.com")
    assert caught.value.reason == "locked_out"


def test_a_destination_window_survives_retiring_the_oldest_sealing_key(
    store: ChallengeStore, outbox: Outbox
) -> None:
    tag, k1, k2 = (Keyring.new_key_string(kid) for kid in ("tag", "k1", "k2"))
    limit = WindowPolicy(limit=2, window=600)
    before = _otp(store, f"{k1},{k2},{tag}", outbox, destination_limit=limit, subject_limit=None)
    for n in range(limit.limit):
        before.start(f"user-{n}", "a@example.com")

    after = _otp(store, f"{k2},{tag}", outbox, destination_limit=limit, subject_limit=None)
    with pytest.raises(RateLimited) as caught:
        after.start("user-9", "a@example.com")
    assert caught.value.reason == "destination_limit"
