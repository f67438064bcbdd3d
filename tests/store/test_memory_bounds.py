"""memory:// holds live state only: what traffic leaves behind is swept by time, a little per
operation, and what a request does not keep is never created."""

from __future__ import annotations

import base64
import os
import secrets

import pytest
from store_support import challenge

from verifykit import ChallengeNotFound, ConfigurationError, Keyring, StoreUnavailable
from verifykit.otp import EmailOTP
from verifykit.store import LockoutPolicy, MemoryStore, WindowPolicy
from verifykit.store._memory import DEFAULT_MAX_WINDOWS, SWEEP_BATCH
from verifykit.testing import FakeClock, Outbox

LOCKOUT = LockoutPolicy(threshold=3, lockout=30, lockout_max=600, hard_cap=10, memory=3600)
WINDOW = WindowPolicy(limit=5, window=600)
EMPTY = {"challenges": 0, "windows": 0, "lockouts": 0, "expiries": 0}
MANY = 1000


def random_challenge_id() -> str:
    tag = base64.b32encode(os.urandom(16)).decode("ascii").lower()[:26]
    return f"{tag}.{secrets.token_urlsafe(16)}"


def touch(store: MemoryStore, times: int) -> None:
    """Operations that keep nothing themselves; each one lets the sweep retire a batch."""
    for _ in range(times):
        store.get("no-such-challenge")


@pytest.fixture
def store(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock)


def test_a_hundred_thousand_checks_of_unknown_challenge_ids_keep_nothing(store: MemoryStore) -> None:
    otp = EmailOTP(store=store, keyring=Keyring.generate(), mailer=Outbox(), audit=None)
    for _ in range(100_000):
        with pytest.raises(ChallengeNotFound):
            otp.check(random_challenge_id(), "123456")
    assert store.sizes() == EMPTY


def test_a_check_of_a_closed_challenge_keeps_no_lockout(store: MemoryStore) -> None:
    new = challenge()
    store.create(new, retention=60)
    store.cancel(new.id)
    store.attempt(new.id, ["k1:wrong"], lockout_key="{s}:fail:otp", lockout=LOCKOUT)
    assert store.sizes()["lockouts"] == 0


def test_reads_and_refused_hits_keep_nothing(store: MemoryStore) -> None:
    for n in range(MANY):
        store.hit(f"client:{n}", WINDOW, cost=0)
        store.hit(f"dest:{n}", WindowPolicy(limit=1, window=60), cost=2)
        store.refund(f"client:{n}", WINDOW)
        store.failure_state(f"subject:{n}")
        store.reset_failures(f"subject:{n}")
    assert store.sizes() == EMPTY


def test_windows_are_swept_once_their_newest_event_has_left(store: MemoryStore, clock: FakeClock) -> None:
    for n in range(MANY):
        store.hit(f"dest:{n}", WINDOW)
    clock.advance(WINDOW.window - 1)
    touch(store, MANY)
    assert store.sizes()["windows"] == MANY
    clock.advance(1)
    touch(store, MANY // SWEEP_BATCH + 1)
    assert store.sizes() == EMPTY


def test_a_window_still_in_use_is_kept_past_its_first_horizon(store: MemoryStore, clock: FakeClock) -> None:
    store.hit("client:a", WINDOW)
    clock.advance(WINDOW.window / 2)
    store.hit("client:a", WINDOW)
    clock.advance(WINDOW.window / 2)
    touch(store, 10)
    assert store.hit("client:a", WINDOW, cost=0).count == 1


def test_lockouts_are_swept_once_their_failures_are_forgotten(store: MemoryStore, clock: FakeClock) -> None:
    for n in range(MANY):
        store.charge(f"subject:{n}", LOCKOUT)
    clock.advance(LOCKOUT.memory - 1)
    touch(store, MANY)
    assert store.sizes()["lockouts"] == MANY
    clock.advance(1)
    touch(store, MANY // SWEEP_BATCH + 1)
    assert store.sizes() == EMPTY


def test_a_hard_lock_is_never_swept_by_time(store: MemoryStore, clock: FakeClock) -> None:
    for _ in range(LOCKOUT.hard_cap):
        assert store.charge("subject:a", LOCKOUT).allowed
        clock.advance(LOCKOUT.lockout_max)
    clock.advance(10 * 365 * 86400.0)
    touch(store, 100)
    state = store.failure_state("subject:a")
    assert state.hard_locked and not state.allowed
    assert store.sizes() == {**EMPTY, "lockouts": 1}
    store.reset_failures("subject:a")
    assert store.sizes() == EMPTY


def test_a_lockout_hard_from_its_first_failure_is_kept_and_reset_cleanly(store: MemoryStore) -> None:
    store.charge("subject:a", LockoutPolicy(threshold=1, hard_cap=1))
    assert store.failure_state("subject:a").hard_locked
    store.reset_failures("subject:a")
    assert store.sizes() == EMPTY


def test_expired_challenges_are_swept_without_being_read(store: MemoryStore, clock: FakeClock) -> None:
    for _ in range(MANY):
        store.create(challenge(ttl=60), retention=30)
    clock.advance(90)
    touch(store, MANY // SWEEP_BATCH + 1)
    assert store.sizes() == EMPTY


def test_a_resent_challenge_is_kept_until_its_new_expiry(store: MemoryStore, clock: FakeClock) -> None:
    new = challenge(ttl=60, resend_after=0)
    store.create(new, retention=30)
    clock.advance(50)
    store.resend(new.id, "k1:new", ttl=60, max_sends=3, cooldown=0, cooldown_factor=1, cooldown_max=0)
    clock.advance(50)
    touch(store, 10)
    assert store.get(new.id) is not None


def test_one_operation_sweeps_at_most_a_small_batch(store: MemoryStore, clock: FakeClock) -> None:
    for n in range(MANY):
        store.hit(f"dest:{n}", WINDOW)
    clock.advance(WINDOW.window)
    touch(store, 1)
    assert store.sizes()["windows"] == MANY - SWEEP_BATCH


def test_a_success_after_every_charge_keeps_one_entry_per_key(store: MemoryStore, clock: FakeClock) -> None:
    for _ in range(10_000):
        store.charge("subject:a", LOCKOUT)
        store.reset_failures("subject:a")
        clock.advance(1)
    assert store.sizes() == {**EMPTY, "lockouts": 1, "expiries": 1}


def test_a_busy_window_keeps_one_pending_expiry(store: MemoryStore, clock: FakeClock) -> None:
    for _ in range(10_000):
        store.hit("client:a", WINDOW)
        store.refund("client:a", WINDOW)
        clock.advance(1)
    assert store.sizes() == {**EMPTY, "windows": 1, "expiries": 1}


# -- the number of windows is bounded, and a full store refuses rather than forgets ---------------

SINGLE_USE = WindowPolicy(limit=1, window=3600)


@pytest.fixture
def small(clock: FakeClock) -> MemoryStore:
    return MemoryStore(clock=clock, max_windows=MANY)


def fill(store: MemoryStore, prefix: str = "client") -> None:
    """Hit distinct keys until the store holds ``max_windows`` windows."""
    for n in range(store.max_windows - store.sizes()["windows"]):
        assert store.hit(f"{prefix}:{n}", WINDOW).allowed


def test_a_memory_store_holds_a_hundred_thousand_windows_by_default() -> None:
    assert MemoryStore().max_windows == DEFAULT_MAX_WINDOWS == 100_000


def test_distinct_keys_never_hold_more_than_max_windows(small: MemoryStore) -> None:
    fill(small)
    for n in range(MANY):
        with pytest.raises(StoreUnavailable, match="max_windows"):
            small.hit(f"another-client:{n}", WINDOW)
    assert small.sizes()["windows"] == MANY


def test_a_full_store_keeps_every_limit_it_holds(small: MemoryStore) -> None:
    for _ in range(WINDOW.limit):
        small.hit("dest:victim", WINDOW)
    small.hit("marker:spent", SINGLE_USE)
    fill(small)
    with pytest.raises(StoreUnavailable):
        small.hit("client:one-more", WINDOW)
    assert not small.hit("dest:victim", WINDOW).allowed
    assert not small.hit("marker:spent", SINGLE_USE).allowed


def test_a_full_store_still_counts_held_keys_and_answers_what_keeps_nothing(small: MemoryStore) -> None:
    fill(small)
    assert small.hit("client:0", WINDOW).count == 2
    assert small.refund("client:0", WINDOW).count == 1
    assert small.hit("client:new", WINDOW, cost=0).count == 0
    assert not small.hit("client:new", WINDOW, cost=WINDOW.limit + 1).allowed
    assert small.sizes()["windows"] == MANY


def test_a_full_store_makes_room_once_any_window_has_passed(small: MemoryStore, clock: FakeClock) -> None:
    fill(small)
    clock.advance(WINDOW.window)
    # One hit retires every due window it needs, not just one sweep batch.
    for n in range(SWEEP_BATCH + 1):
        assert small.hit(f"later:{n}", WINDOW).allowed
    assert small.hit("client:0", WINDOW).count == 1  # its old events left with its window


def test_the_refusal_says_when_a_window_may_leave_at_the_earliest(
    small: MemoryStore, clock: FakeClock
) -> None:
    fill(small)
    clock.advance(WINDOW.window - 100)
    with pytest.raises(StoreUnavailable, match="at least 100 s"):
        small.hit("client:new", WINDOW)


@pytest.mark.parametrize("max_windows", [0, -1, True, 1.5, "10"])
def test_max_windows_must_be_a_positive_integer(max_windows: object) -> None:
    with pytest.raises(ConfigurationError, match="max_windows"):
        MemoryStore(max_windows=max_windows)  # type: ignore[arg-type]
