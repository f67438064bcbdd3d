"""Passkeys' flows, driven by hand: the order of the I/O they ask for is the rule, no store needed."""

from __future__ import annotations

from authenticator import SoftAuthenticator
from passkey_support import SETTINGS, Enrolled

from verifykit import Keyring, Reason
from verifykit._flow import Emit, StoreCall, drive
from verifykit.passkey import PasskeyVerifier
from verifykit.passkey._flows import PasskeyFlows
from verifykit.store import AttemptOutcome, FailureState, MemoryStore, WindowResult

ALLOWED = WindowResult(allowed=True, count=1, limit=100, retry_after=0.0)
CHARGED = FailureState(allowed=True, failures=1, retry_after=0.0)


def test_verify_charges_the_client_and_the_subject_before_it_spends_the_challenge(keyring: Keyring) -> None:
    store = MemoryStore()
    enrolled = Enrolled(
        PasskeyVerifier(store=store, keyring=keyring, settings=SETTINGS, audit=None),
        "user-1",
        SoftAuthenticator(),
    )
    challenge_id, options = enrolled.begin()
    record = store.get(challenge_id)
    flows = PasskeyFlows(keyring=keyring, settings=SETTINGS, ways_in=None)
    flow = flows.verify(
        "user-1",
        challenge_id,
        enrolled.authenticator.get(options),
        credentials=[enrolled.stored],
        client="198.51.100.7",
    )
    answers = [
        ALLOWED,
        CHARGED,
        CHARGED,
        record,
        (AttemptOutcome.APPROVED, record, None),
        None,
        None,
        ALLOWED,
        None,
    ]
    steps, verdict = drive(flow, answers)
    assert verdict.approved
    calls = [step.method for step in steps if isinstance(step, StoreCall)]
    assert calls == [
        "hit",
        "charge",
        "charge",
        "get",
        "attempt",
        "reset_failures",
        "reset_failures",
        "refund",
    ]
    assert isinstance(steps[-1], Emit) and steps[-1].event.reason == "approved"


def test_a_locked_subject_spends_nothing_and_gives_the_clients_charge_back(keyring: Keyring) -> None:
    store = MemoryStore()
    enrolled = Enrolled(
        PasskeyVerifier(store=store, keyring=keyring, settings=SETTINGS, audit=None),
        "user-1",
        SoftAuthenticator(),
    )
    challenge_id, options = enrolled.begin()
    flows = PasskeyFlows(keyring=keyring, settings=SETTINGS, ways_in=None)
    flow = flows.verify(
        "user-1",
        challenge_id,
        enrolled.authenticator.get(options),
        credentials=[enrolled.stored],
        client="198.51.100.7",
    )
    locked = FailureState(allowed=False, failures=10, retry_after=60.0)
    steps, verdict = drive(flow, [ALLOWED, locked, ALLOWED, None])
    assert verdict.reason is Reason.LOCKED_OUT
    assert [s.method for s in steps if isinstance(s, StoreCall)] == ["hit", "charge", "refund"]
    assert isinstance(steps[-1], Emit) and steps[-1].event.outcome == "refused"
