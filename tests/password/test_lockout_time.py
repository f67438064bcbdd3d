"""Lockouts escalate and expire with the store's clock (memory store with a fake clock)."""

from __future__ import annotations

from password_support import GOOD, MakeVerifier

from verifykit import Reason
from verifykit.password import DEFAULT_LOCKOUT, PasswordSettings
from verifykit.store import LockoutPolicy
from verifykit.testing import FakeClock

WRONG = "not the password"


def test_the_lockout_doubles_with_each_further_failure(
    memory_verifier: MakeVerifier, clock: FakeClock
) -> None:
    pv = memory_verifier(lockout=LockoutPolicy(threshold=2, lockout=10, lockout_max=1000))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG)
    assert pv.verify("ana", stored, WRONG).retry_after == 10
    clock.advance(10)
    assert pv.verify("ana", stored, WRONG).retry_after == 20
    clock.advance(20)
    assert pv.verify("ana", stored, WRONG).retry_after == 40


def test_after_the_wait_the_right_password_is_approved(
    memory_verifier: MakeVerifier, clock: FakeClock
) -> None:
    pv = memory_verifier(lockout=LockoutPolicy(threshold=1, lockout=10, lockout_max=1000))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG)
    assert pv.verify("ana", stored, GOOD).reason is Reason.LOCKED_OUT
    clock.advance(10)
    assert pv.verify("ana", stored, GOOD).approved


def test_the_default_lockout_follows_nist_sp_800_63b() -> None:
    assert DEFAULT_LOCKOUT.hard_cap == 100
    assert PasswordSettings().lockout == DEFAULT_LOCKOUT
