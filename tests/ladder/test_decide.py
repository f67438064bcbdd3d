"""The ladder's decision, driven by hand: no store, no loop."""

from __future__ import annotations

from verifykit import Keyring, Reason, Way
from verifykit._flow import StoreCall, drive
from verifykit._subject import budget_key, lockout_key, subject_tag
from verifykit.ladder import AAL, ASSURANCE, Combination, Role
from verifykit.ladder._decide import LadderFlows, decide
from verifykit.store import FailureState

OPEN = FailureState(allowed=True, failures=0, retry_after=0.0)
WAITING = FailureState(allowed=False, failures=10, retry_after=30.0)
HARD = FailureState(allowed=False, failures=100, retry_after=0.0, hard_locked=True)
EVERY = frozenset(Way) - {Way.COUNTER_VOUCHER}


def why(offer_closed: tuple[object, ...], way: Way) -> Reason | None:
    return next(r.reason for r in offer_closed if r.way is way)  # type: ignore[attr-defined]


def test_a_waiting_budget_says_until_when_on_the_stores_clock() -> None:
    offer = decide(EVERY, delivery=None, level=None, budget=WAITING, own={}, now=1000.0)
    rung = next(r for r in offer.closed if r.way is Way.PASSWORD)
    assert (rung.reason, rung.retry_after, rung.until) == (Reason.LOCKED_OUT, 30.0, 1030.0)


def test_not_enrolled_is_said_before_any_lock() -> None:
    offer = decide(frozenset(), delivery=None, level=None, budget=HARD, own={}, now=0.0)
    assert {r.reason for r in offer.closed} == {Reason.NOT_ENROLLED}


def test_a_way_that_never_reaches_the_level_is_below_it_before_any_lock() -> None:
    offer = decide(EVERY, delivery="failed", level=AAL.AAL1, budget=HARD, own={}, now=0.0)
    assert why(offer.closed, Way.EMAIL_CODE) is Reason.BELOW_LEVEL
    assert why(offer.closed, Way.PASSWORD) is Reason.HARD_LOCKED


def test_the_counter_voucher_is_open_and_last_whatever_else_holds() -> None:
    offer = decide(frozenset(), delivery="failed", level=AAL.AAL3, budget=HARD, own={}, now=0.0)
    assert [r.way for r in offer.open] == [Way.COUNTER_VOUCHER]
    assert offer.open[0].role is Role.RECOVERY


def test_a_locked_partner_closes_the_combination_and_leaves_the_other_below_the_level() -> None:
    own = {Way.PASSWORD: HARD}
    offer = decide(EVERY, delivery=None, level=AAL.AAL2, budget=OPEN, own=own, now=0.0)
    assert offer.combinations == (Combination((Way.PASSKEY,), AAL.AAL2),)  # the passkey alone is left
    assert why(offer.closed, Way.PASSWORD) is Reason.HARD_LOCKED
    assert why(offer.closed, Way.AUTHENTICATOR_APP) is Reason.BELOW_LEVEL


def test_an_email_code_and_a_face_match_reach_no_level() -> None:
    assert ASSURANCE[Way.EMAIL_CODE] == (Role.ADDRESS_PROOF, None)
    assert ASSURANCE[Way.FACE] == (Role.IDENTITY_EVIDENCE, None)


def test_the_flow_reads_the_budget_first_and_nothing_more_when_it_is_hard_locked() -> None:
    keyring = Keyring.generate()
    tag = subject_tag(keyring, "user-1")
    flow = LadderFlows(keyring=keyring).ways_in("user-1", EVERY, delivery=None, level=None)
    steps, offer = drive(flow, [HARD])
    assert steps == [StoreCall("failure_state", (budget_key(tag),))]
    assert [r.way for r in offer.open] == [Way.COUNTER_VOUCHER]


def test_the_flow_reads_each_enrolled_methods_own_count_and_the_clock_only_for_a_wait() -> None:
    keyring = Keyring.generate()
    tag = subject_tag(keyring, "user-1")
    flow = LadderFlows(keyring=keyring).ways_in("user-1", [Way.PASSWORD], delivery=None, level=None)
    steps, offer = drive(flow, [OPEN, WAITING, 500.0])
    assert steps == [
        StoreCall("failure_state", (budget_key(tag),)),
        StoreCall("failure_state", (lockout_key(Way.PASSWORD, tag),)),
        StoreCall("now"),
    ]
    assert why(offer.closed, Way.PASSWORD) is Reason.LOCKED_OUT
