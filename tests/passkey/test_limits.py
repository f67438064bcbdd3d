"""Passkeys: a failure counts in the subject's one failure budget, and guessing is capped."""

from __future__ import annotations

from dataclasses import replace

import pytest
from authenticator import SoftAuthenticator
from passkey_support import SETTINGS, Build, Enrolled

from verifykit import Keyring, RateLimited, Reason
from verifykit._subject import budget_key, subject_tag
from verifykit.passkey import PasskeyVerifier
from verifykit.store import LockoutPolicy, MemoryStore, WindowPolicy
from verifykit.testing import FakeClock

LOCKOUT = LockoutPolicy(threshold=3, lockout=60, lockout_max=3600, hard_cap=100)


def test_each_failure_spends_the_subjects_budget(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(lockout=LOCKOUT))
    assert [enrolled.sign_in(flip_signature=True).budget_left for _ in range(2)] == [2, 1]


def test_a_passkey_failure_is_charged_to_the_budget_every_way_in_shares(
    build: Build, keyring: Keyring
) -> None:
    enrolled = build.enrolled()
    enrolled.sign_in(uv=False)
    state = build.failure_state(budget_key(subject_tag(keyring, "user-1")))
    assert state.failures == 1


def test_a_sign_in_resets_the_budget(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(lockout=LOCKOUT))
    enrolled.sign_in(flip_signature=True)
    enrolled.sign_in(flip_signature=True)
    assert enrolled.sign_in().approved
    assert enrolled.sign_in(flip_signature=True).budget_left == 2


def test_the_subject_is_locked_out_at_the_threshold_and_even_a_good_passkey_waits(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(lockout=LOCKOUT))
    last = [enrolled.sign_in(flip_signature=True) for _ in range(3)][-1]
    assert last.reason is Reason.BAD_SIGNATURE and last.budget_left == 0 and last.retry_after == 60
    locked = enrolled.sign_in()
    assert locked.reason is Reason.LOCKED_OUT and locked.retry_after is not None


def test_a_lockout_leaves_the_challenge_unspent(clock: FakeClock, keyring: Keyring) -> None:
    settings = replace(SETTINGS, lockout=LockoutPolicy(threshold=1, lockout=60))
    enrolled = Enrolled(
        PasskeyVerifier(store=MemoryStore(clock=clock), keyring=keyring, settings=settings),
        "user-1",
        SoftAuthenticator(),
    )
    enrolled.sign_in(flip_signature=True)
    challenge_id, options = enrolled.begin()
    response = enrolled.authenticator.get(options)
    refused = enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored])
    assert refused.reason is Reason.LOCKED_OUT
    clock.advance(61)  # the wait is over; the challenge (two minutes) still lives
    assert enrolled.passkeys.verify("user-1", challenge_id, response, credentials=[enrolled.stored]).approved


def test_a_locked_out_subject_is_offered_the_other_ways_in(build: Build) -> None:
    enrolled = build.enrolled(passkeys=build.passkeys(lockout=LOCKOUT))
    for _ in range(3):
        enrolled.sign_in(flip_signature=True)
    assert enrolled.sign_in().ways_in == ("counter_voucher",)


def test_failures_from_one_client_are_capped_across_subjects(build: Build) -> None:
    passkeys = build.passkeys(client_limit=WindowPolicy(limit=2, window=600))
    ana, bob = build.enrolled("ana", passkeys), build.enrolled("bob", passkeys)
    ana.sign_in(flip_signature=True, client="198.51.100.7")
    bob.sign_in(flip_signature=True, client="198.51.100.7")
    assert bob.sign_in(client="198.51.100.7").reason is Reason.RATE_LIMITED
    assert bob.sign_in(client="203.0.113.9").approved


def test_a_sign_in_gives_its_clients_charge_back(build: Build) -> None:
    passkeys = build.passkeys(client_limit=WindowPolicy(limit=1, window=600))
    enrolled = build.enrolled(passkeys=passkeys)
    assert enrolled.sign_in(client="198.51.100.7").approved
    assert enrolled.sign_in(client="198.51.100.7").approved


def test_starting_ceremonies_is_rate_limited_per_client(build: Build) -> None:
    passkeys = build.passkeys(options_limit=WindowPolicy(limit=2, window=600))
    for _ in range(2):
        passkeys.authentication_options("user-1", client="198.51.100.7")
    with pytest.raises(RateLimited) as refused:
        passkeys.authentication_options("user-1", client="198.51.100.7")
    assert refused.value.reason == "options_limit" and refused.value.retry_after > 0
