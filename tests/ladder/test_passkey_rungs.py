"""Passkeys on the ladder: offered first, AAL2 when synced, AAL3 only when the caller says the
credential is device-bound with trusted attestation (SP 800-63B-4 3.1.7)."""

from __future__ import annotations

import pytest

from verifykit import InvalidInput, Keyring, Reason, Way
from verifykit.ladder import AAL, Combination, Ladder
from verifykit.ladder._decide import decide
from verifykit.store import FailureState, MemoryStore

OPEN = FailureState(allowed=True, failures=0, retry_after=0.0)
EVERY = frozenset(Way) - {Way.COUNTER_VOUCHER}


def test_an_enrolled_passkey_is_offered_first() -> None:
    offer = decide(EVERY, delivery=None, level=None, budget=OPEN, own={}, now=0.0)
    assert offer.open[0].way is Way.PASSKEY


def test_a_passkey_alone_reaches_aal2() -> None:
    offer = decide(frozenset({Way.PASSKEY}), delivery=None, level=AAL.AAL2, budget=OPEN, own={}, now=0.0)
    assert offer.combinations == (Combination((Way.PASSKEY,), AAL.AAL2),)


def test_a_synced_passkey_is_below_aal3() -> None:
    offer = decide(EVERY, delivery=None, level=AAL.AAL3, budget=OPEN, own={}, now=0.0)
    rung = next(r for r in offer.closed if r.way is Way.PASSKEY)
    assert (rung.reason, rung.level, offer.combinations) == (Reason.BELOW_LEVEL, AAL.AAL2, ())


def test_a_device_bound_passkey_with_trusted_attestation_reaches_aal3() -> None:
    offer = decide(EVERY, delivery=None, level=AAL.AAL3, budget=OPEN, own={}, now=0.0, passkey=AAL.AAL3)
    assert offer.combinations == (Combination((Way.PASSKEY,), AAL.AAL3),)
    assert [r.way for r in offer.open] == [Way.PASSKEY, Way.COUNTER_VOUCHER]
    assert offer.open[0].level is AAL.AAL3


def test_a_locked_passkey_is_closed_with_its_own_count() -> None:
    locked = FailureState(allowed=False, failures=10, retry_after=60.0)
    offer = decide(EVERY, delivery=None, level=None, budget=OPEN, own={Way.PASSKEY: locked}, now=0.0)
    rung = next(r for r in offer.closed if r.way is Way.PASSKEY)
    assert (rung.reason, rung.retry_after) == (Reason.LOCKED_OUT, 60.0)
    assert offer.open[0].way is Way.AUTHENTICATOR_APP


@pytest.mark.parametrize("level", [AAL.AAL1, 1, "aal1", "fast"])
def test_a_passkey_level_other_than_aal2_or_aal3_is_refused(level: object) -> None:
    ladder = Ladder(store=MemoryStore(), keyring=Keyring.generate())
    with pytest.raises(InvalidInput) as caught:
        ladder.ways_in("user-1", [Way.PASSKEY], passkey_level=level)  # type: ignore[arg-type]
    assert caught.value.field == "passkey_level"


def test_the_ladder_reads_the_passkeys_own_lockout_from_the_store() -> None:
    from verifykit._subject import lockout_key, subject_tag
    from verifykit.store import LockoutPolicy

    keyring, store = Keyring.generate(), MemoryStore()
    key = lockout_key(Way.PASSKEY, subject_tag(keyring, "user-1"))
    for _ in range(3):
        store.charge(key, LockoutPolicy(threshold=3, lockout=60, lockout_max=60, hard_cap=100))
    offer = Ladder(store=store, keyring=keyring).ways_in("user-1", [Way.PASSKEY, Way.PASSWORD])
    assert next(r for r in offer.closed if r.way is Way.PASSKEY).reason is Reason.LOCKED_OUT
