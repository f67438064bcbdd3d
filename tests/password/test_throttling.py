"""Failed verifies are counted on the shared store, per subject and per client address.

Every test here runs on each store backend (memory, Redis, Redis Cluster), in each flavour.
"""

from __future__ import annotations

import threading

import pytest
from password_support import GOOD, MakeVerifier

from flavours import Flavour
from verifykit import Keyring, Reason, StoreUnavailable, Way, aio
from verifykit.password import PasswordSettings, PasswordVerifier
from verifykit.password._hasher import StoredHash
from verifykit.store import LockoutPolicy, WindowPolicy

WRONG = "not the password"


def test_wrong_passwords_count_down_to_a_lockout(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=3, lockout=30, lockout_max=600))
    stored = pv.hash(GOOD)
    first = pv.verify("ana", stored, WRONG)
    assert (first.reason, first.budget_left, first.retry_after) == (Reason.WRONG_PASSWORD, 2, None)
    second = pv.verify("ana", stored, WRONG)
    assert second.budget_left == 1 and second.ways_in
    third = pv.verify("ana", stored, WRONG)
    assert third.reason is Reason.WRONG_PASSWORD and third.retry_after == 30
    assert Way.RECOVERY_CODE in third.ways_in and Way.COUNTER_VOUCHER in third.ways_in


def test_a_wrong_password_counts_the_subjects_budget_not_a_challenges_attempts(
    make_verifier: MakeVerifier,
) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=3, lockout=30, lockout_max=600))
    verdict = pv.verify("ana", pv.hash(GOOD), WRONG)
    assert (verdict.budget_left, verdict.attempts_left) == (2, None)


def test_a_locked_out_subject_is_refused_even_with_the_right_password(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=2, lockout=30, lockout_max=600))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG)
    pv.verify("ana", stored, WRONG)
    verdict = pv.verify("ana", stored, GOOD)
    assert not verdict.approved and verdict.reason is Reason.LOCKED_OUT
    assert verdict.retry_after is not None and 0 < verdict.retry_after <= 30
    assert verdict.ways_in == (Way.RECOVERY_CODE, Way.COUNTER_VOUCHER)


def test_the_lockout_is_per_subject(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=1, lockout=30, lockout_max=600))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG)
    assert pv.verify("ana", stored, GOOD).reason is Reason.LOCKED_OUT
    assert pv.verify("bea", stored, GOOD).approved


def test_a_success_resets_the_count(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=3, lockout=30, lockout_max=600))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG)
    pv.verify("ana", stored, WRONG)
    assert pv.verify("ana", stored, GOOD).approved
    assert pv.verify("ana", stored, WRONG).budget_left == 2


def test_an_unknown_subject_is_counted_and_locked_like_a_real_one(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=2, lockout=30, lockout_max=600))
    first = pv.verify("ghost", None, WRONG)
    assert (first.reason, first.budget_left) == (Reason.WRONG_PASSWORD, 1)
    pv.verify("ghost", None, WRONG)
    assert pv.verify("ghost", None, GOOD).reason is Reason.LOCKED_OUT


def test_an_unknown_subject_never_matches_even_the_dummy_password(make_verifier: MakeVerifier) -> None:
    pv = make_verifier()
    assert pv.verify("ghost", None, GOOD).reason is Reason.WRONG_PASSWORD


def test_concurrent_wrong_passwords_never_exceed_100_consecutive_failures(
    make_verifier: MakeVerifier,
) -> None:
    # The NIST SP 800-63B cap must hold exactly, however many verifies race.
    pv = make_verifier(lockout=LockoutPolicy(threshold=100, lockout=30, lockout_max=600, hard_cap=100))
    stored = pv.hash(GOOD)
    reasons: list[Reason] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def attacker() -> None:
        start.wait()
        for _ in range(16):
            verdict = pv.verify("ana", stored, WRONG)
            with lock:
                reasons.append(verdict.reason)

    threads = [threading.Thread(target=attacker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert reasons.count(Reason.WRONG_PASSWORD) == 100
    assert reasons.count(Reason.HARD_LOCKED) == 8 * 16 - 100
    final = pv.verify("ana", stored, GOOD)
    assert final.reason is Reason.HARD_LOCKED and final.retry_after is None
    assert final.details == {}


def test_the_failure_that_reaches_the_hard_cap_says_the_subject_is_now_hard_locked(
    make_verifier: MakeVerifier,
) -> None:
    pv = make_verifier(lockout=LockoutPolicy(threshold=5, lockout=1, lockout_max=1, hard_cap=5))
    stored = pv.hash(GOOD)
    verdicts = [pv.verify("ana", stored, WRONG) for _ in range(5)]
    assert verdicts[-1].reason is Reason.WRONG_PASSWORD
    assert verdicts[-1].details.get("hard_locked") == "true"
    assert verdicts[-1].retry_after is None and verdicts[-1].ways_in


def test_a_client_address_over_its_failure_window_is_rate_limited(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(client_limit=WindowPolicy(limit=3, window=600))
    stored = pv.hash(GOOD)
    for subject in ("a", "b", "c"):
        assert pv.verify(subject, stored, WRONG, client="203.0.113.9").reason is Reason.WRONG_PASSWORD
    limited = pv.verify("d", stored, GOOD, client="203.0.113.9")
    assert limited.reason is Reason.RATE_LIMITED and not limited.approved
    assert limited.retry_after is not None and 0 < limited.retry_after <= 600
    assert pv.verify("d", stored, GOOD, client="198.51.100.7").approved


def test_successful_verifies_do_not_use_up_a_client_window(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(client_limit=WindowPolicy(limit=2, window=600))
    stored = pv.hash(GOOD)
    for n in range(5):
        assert pv.verify(f"user-{n}", stored, GOOD, client="192.0.2.1").approved


def test_a_rate_limited_client_does_not_charge_the_subject(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(
        client_limit=WindowPolicy(limit=2, window=600),
        lockout=LockoutPolicy(threshold=3, lockout=30, lockout_max=600),
    )
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG, client="192.0.2.1")
    pv.verify("ana", stored, WRONG, client="192.0.2.1")
    for _ in range(3):
        assert pv.verify("ana", stored, WRONG, client="192.0.2.1").reason is Reason.RATE_LIMITED
    assert pv.verify("ana", stored, GOOD, client="192.0.2.2").approved


def _count_hashing(pv: PasswordVerifier, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Wrap the verifier's hasher so each argon2 verification is counted (the real work still runs)."""
    calls: list[int] = []
    real = pv.hasher.verify

    def counted(stored: StoredHash | str, password: str) -> int | None:
        calls.append(1)
        return real(stored, password)

    monkeypatch.setattr(pv.hasher, "verify", counted)
    return calls


def test_fifty_racing_wrong_passwords_from_one_client_hash_at_most_its_limit(
    make_verifier: MakeVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A password spray: one address, a different subject each time, all released together.
    pv = make_verifier(client_limit=WindowPolicy(limit=3, window=600))
    stored = pv.hash(GOOD)
    hashed = _count_hashing(pv, monkeypatch)
    start = threading.Barrier(50)
    reasons: list[Reason] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        start.wait()
        verdict = pv.verify(f"user-{n}", stored, WRONG, client="203.0.113.9")
        with lock:
            reasons.append(verdict.reason)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(hashed) <= 3
    assert reasons.count(Reason.WRONG_PASSWORD) == len(hashed)
    assert reasons.count(Reason.RATE_LIMITED) == 50 - len(hashed)


def test_a_rate_limited_verify_does_no_hashing(
    make_verifier: MakeVerifier, monkeypatch: pytest.MonkeyPatch
) -> None:
    pv = make_verifier(client_limit=WindowPolicy(limit=1, window=600))
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG, client="192.0.2.1")
    hashed = _count_hashing(pv, monkeypatch)
    assert pv.verify("bea", stored, GOOD, client="192.0.2.1").reason is Reason.RATE_LIMITED
    assert hashed == []


def test_a_lockout_refusal_does_not_use_up_a_client_window(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(
        client_limit=WindowPolicy(limit=2, window=600),
        lockout=LockoutPolicy(threshold=1, lockout=30, lockout_max=600),
    )
    stored = pv.hash(GOOD)
    pv.verify("ana", stored, WRONG, client="192.0.2.1")
    for _ in range(3):
        assert pv.verify("ana", stored, GOOD, client="192.0.2.1").reason is Reason.LOCKED_OUT
    assert pv.verify("bea", stored, WRONG, client="192.0.2.1").reason is Reason.WRONG_PASSWORD


def test_a_client_limit_of_one_failure_is_allowed(make_verifier: MakeVerifier) -> None:
    pv = make_verifier(client_limit=WindowPolicy(limit=1, window=600))
    stored = pv.hash(GOOD)
    assert pv.verify("ana", stored, WRONG, client="192.0.2.1").reason is Reason.WRONG_PASSWORD
    assert pv.verify("bea", stored, GOOD, client="192.0.2.1").reason is Reason.RATE_LIMITED


def test_an_unreachable_store_fails_closed(flavour: Flavour, keyring: Keyring) -> None:
    store = flavour.store("redis://127.0.0.1:1/0", keys=False, socket_timeout=0.2, socket_connect_timeout=0.2)
    pv = flavour.build(
        PasswordVerifier,
        aio.PasswordVerifier,
        store=store,
        keyring=keyring,
        settings=PasswordSettings(preset="cheap_tests_only"),
        audit=None,
    )
    stored = pv.hash(GOOD)
    with pytest.raises(StoreUnavailable):
        pv.verify("ana", stored, GOOD)
    assert pv.budget.in_flight == 0
