"""One failure budget per subject across methods: switching methods never multiplies guesses, any
success resets the budget, and a success with one factor never refreshes another factor's count."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ladder_support import SUBJECT, T0, Tour, policy, right_totp, wrong_totp

from verifykit import Reason, Way
from verifykit.testing import last_code

ENROLLED = [Way.PASSWORD, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE, Way.EMAIL_CODE]


def test_failures_through_different_methods_count_in_one_budget(tour: Tour) -> None:
    totp, recovery = tour.totp(policy(4, hard_cap=4)), tour.recovery(policy(4, hard_cap=4))
    enrollment = totp.enroll(SUBJECT, "ana")
    codes = recovery.generate(SUBJECT)
    wrong = wrong_totp(enrollment.secret_base32, T0)
    for _ in range(2):
        assert totp.verify(SUBJECT, enrollment.stored, wrong, at=T0).reason is Reason.WRONG_CODE
        assert recovery.redeem(SUBJECT, codes.stored, "AAAA-AAAA-AAAA").reason is Reason.WRONG_CODE

    # Two failures each, four in all: the budget's hard cap, though neither method reached its own.
    refused = recovery.redeem(SUBJECT, codes.stored, codes.codes[0])
    assert refused.reason is Reason.HARD_LOCKED
    assert refused.details == {}
    right = right_totp(enrollment.secret_base32, T0)
    assert totp.verify(SUBJECT, enrollment.stored, right, at=T0).reason is Reason.HARD_LOCKED


def test_email_code_failures_count_in_the_subject_budget(tour: Tour) -> None:
    otp, totp = tour.email_otp(policy(3, hard_cap=3)), tour.totp(policy(3, hard_cap=3))
    enrollment = totp.enroll(SUBJECT, "ana")
    challenge = otp.start(SUBJECT, "ana@example.com")
    right = last_code(tour.outbox)
    wrong = "000000" if right != "000000" else "111111"
    assert otp.check(challenge.id, wrong).reason is Reason.WRONG_CODE
    assert otp.check(challenge.id, wrong).reason is Reason.WRONG_CODE
    wrong_app = wrong_totp(enrollment.secret_base32, T0)
    assert totp.verify(SUBJECT, enrollment.stored, wrong_app, at=T0).reason is Reason.WRONG_CODE

    assert otp.check(challenge.id, right).reason is Reason.HARD_LOCKED


def test_a_success_through_any_method_resets_the_budget(tour: Tour) -> None:
    totp, recovery = tour.totp(policy(3)), tour.recovery(policy(3))
    enrollment = totp.enroll(SUBJECT, "ana")
    codes = recovery.generate(SUBJECT)
    wrong = wrong_totp(enrollment.secret_base32, T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    recovery.redeem(SUBJECT, codes.stored, "AAAA-AAAA-AAAA")
    assert tour.ladder().ways_in(SUBJECT, ENROLLED).budget.failures == 2

    assert recovery.redeem(SUBJECT, codes.stored, codes.codes[0]).approved

    assert tour.ladder().ways_in(SUBJECT, ENROLLED).budget.failures == 0


def test_a_success_with_one_factor_does_not_refresh_another_factors_own_count(tour: Tour) -> None:
    """Knowing the password must not buy fresh guesses at the authenticator app."""
    password, totp = tour.password(), tour.totp(policy(3, hard_cap=3))
    stored_hash = password.hash("correct horse battery staple", subject=SUBJECT)
    enrollment = totp.enroll(SUBJECT, "ana")
    wrong = wrong_totp(enrollment.secret_base32, T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    assert password.verify(SUBJECT, stored_hash, "correct horse battery staple").approved  # budget reset

    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)  # the app's third failure: its own cap

    right = right_totp(enrollment.secret_base32, T0)
    assert totp.verify(SUBJECT, enrollment.stored, right, at=T0).reason is Reason.HARD_LOCKED
    offer = tour.ladder().ways_in(SUBJECT, ENROLLED)
    assert offer.budget.failures == 1
    assert {rung.way: rung.reason for rung in offer.closed}[Way.AUTHENTICATOR_APP] is Reason.HARD_LOCKED
    assert Way.PASSWORD in [rung.way for rung in offer.open]


def test_racing_guesses_across_methods_never_pass_the_budget_cap(tour: Tour) -> None:
    cap = 6
    totp, recovery = tour.totp(policy(cap, hard_cap=cap)), tour.recovery(policy(cap, hard_cap=cap))
    enrollment = totp.enroll(SUBJECT, "ana")
    codes = recovery.generate(SUBJECT)
    wrong = wrong_totp(enrollment.secret_base32, T0)

    def guess(i: int) -> Reason:
        if i % 2:
            return totp.verify(SUBJECT, enrollment.stored, wrong, at=T0).reason
        return recovery.redeem(SUBJECT, codes.stored, "AAAA-AAAA-AAAA").reason

    with ThreadPoolExecutor(8) as pool:
        reasons = list(pool.map(guess, range(4 * cap)))

    assert reasons.count(Reason.WRONG_CODE) == cap
    assert tour.ladder().ways_in(SUBJECT, ENROLLED).budget.hard_locked
