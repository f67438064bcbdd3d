"""The ladder call over each flavour and backend: the ways in open now, in order, and why not the others."""

from __future__ import annotations

import pytest
from ladder_support import SUBJECT, T0, Tour, policy, wrong_totp

from verifykit import InvalidInput, Reason, Way
from verifykit._subject import subject_tag, unlock_keys
from verifykit.ladder import AAL, Combination

ALL = [Way.PASSKEY, Way.PASSWORD, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE, Way.EMAIL_CODE, Way.FACE]


def opened(tour: Tour, enrolled: list[Way] | list[str], **kwargs: object) -> list[Way]:
    return [rung.way for rung in tour.ladder().ways_in(SUBJECT, enrolled, **kwargs).open]  # type: ignore[arg-type]


def closed(tour: Tour, enrolled: list[Way], **kwargs: object) -> dict[Way, Reason | None]:
    offer = tour.ladder().ways_in(SUBJECT, enrolled, **kwargs)  # type: ignore[arg-type]
    return {rung.way: rung.reason for rung in offer.closed}


def test_every_enrolled_way_is_open_most_assured_first_and_the_voucher_last(tour: Tour) -> None:
    assert opened(tour, ALL) == [
        Way.PASSKEY,
        Way.AUTHENTICATOR_APP,
        Way.PASSWORD,
        Way.RECOVERY_CODE,
        Way.EMAIL_CODE,
        Way.FACE,
        Way.COUNTER_VOUCHER,
    ]


def test_ways_are_named_by_their_wire_values_too(tour: Tour) -> None:
    assert opened(tour, ["email_code"]) == [Way.EMAIL_CODE, Way.COUNTER_VOUCHER]


def test_a_way_not_enrolled_is_closed_as_not_enrolled(tour: Tour) -> None:
    assert closed(tour, [Way.EMAIL_CODE])[Way.AUTHENTICATOR_APP] is Reason.NOT_ENROLLED


def test_a_failed_delivery_closes_the_email_code_and_leaves_the_rest(tour: Tour) -> None:
    assert closed(tour, ALL, delivery="failed") == {Way.EMAIL_CODE: Reason.DELIVERY_FAILED}


def test_a_sent_email_keeps_the_email_code_open(tour: Tour) -> None:
    assert Way.EMAIL_CODE in opened(tour, ALL, delivery="sent")


def test_at_aal2_only_a_passkey_or_a_password_with_a_physical_authenticator_is_offered(
    tour: Tour,
) -> None:
    offer = tour.ladder().ways_in(SUBJECT, ALL, level=AAL.AAL2)

    assert offer.combinations == (
        Combination((Way.PASSKEY,), AAL.AAL2),
        Combination((Way.PASSWORD, Way.AUTHENTICATOR_APP), AAL.AAL2),
        Combination((Way.PASSWORD, Way.RECOVERY_CODE), AAL.AAL2),
    )
    assert [r.way for r in offer.open] == [
        Way.PASSKEY,
        Way.PASSWORD,
        Way.AUTHENTICATOR_APP,
        Way.RECOVERY_CODE,
        Way.COUNTER_VOUCHER,
    ]
    below = {Way.EMAIL_CODE: Reason.BELOW_LEVEL, Way.FACE: Reason.BELOW_LEVEL}
    assert {r.way: r.reason for r in offer.closed} == below


def test_at_aal2_an_authenticator_app_without_a_password_is_below_the_level(tour: Tour) -> None:
    offer = tour.ladder().ways_in(SUBJECT, [Way.AUTHENTICATOR_APP, Way.EMAIL_CODE], level="aal2")

    assert offer.combinations == ()
    assert [r.way for r in offer.open] == [Way.COUNTER_VOUCHER]
    assert {r.way: r.reason for r in offer.closed}[Way.AUTHENTICATOR_APP] is Reason.BELOW_LEVEL


def test_at_aal3_only_the_counter_voucher_is_open(tour: Tour) -> None:
    assert opened(tour, ALL, level=3) == [Way.COUNTER_VOUCHER]


def test_a_locked_method_is_closed_until_its_wait_ends(tour: Tour) -> None:
    totp, recovery = tour.totp(policy(2)), tour.recovery()
    enrollment = totp.enroll(SUBJECT, "ana")
    codes = recovery.generate(SUBJECT)
    wrong = wrong_totp(enrollment.secret_base32, T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    assert recovery.redeem(SUBJECT, codes.stored, codes.codes[0]).approved  # the budget starts afresh
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)  # the app's own second failure: a wait

    offer = tour.ladder().ways_in(SUBJECT, ALL)

    rung = next(r for r in offer.closed if r.way is Way.AUTHENTICATOR_APP)
    assert rung.reason is Reason.LOCKED_OUT
    assert rung.retry_after is not None and 0 < rung.retry_after <= 60
    assert rung.until is not None and tour.store_now() < rung.until <= tour.store_now() + 60
    assert [r.way for r in offer.closed] == [Way.AUTHENTICATOR_APP]


def test_a_locked_budget_closes_every_way_but_the_voucher(tour: Tour) -> None:
    totp = tour.totp(policy(2))
    enrollment = totp.enroll(SUBJECT, "ana")
    wrong = wrong_totp(enrollment.secret_base32, T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)

    assert opened(tour, ALL) == [Way.COUNTER_VOUCHER]
    assert set(closed(tour, ALL).values()) == {Reason.LOCKED_OUT}


def test_a_hard_lock_leaves_only_the_voucher_and_an_unlock_reopens_every_way(tour: Tour) -> None:
    totp = tour.totp(policy(2, hard_cap=2))
    enrollment = totp.enroll(SUBJECT, "ana")
    wrong = wrong_totp(enrollment.secret_base32, T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    totp.verify(SUBJECT, enrollment.stored, wrong, at=T0)
    assert set(closed(tour, ALL).values()) == {Reason.HARD_LOCKED}

    for key in unlock_keys(subject_tag(tour.keyring, SUBJECT), [Way.AUTHENTICATOR_APP]):
        tour.reset_failures(key)

    assert Way.AUTHENTICATOR_APP in opened(tour, ALL)


def test_asking_the_ladder_changes_no_count(tour: Tour) -> None:
    first = tour.ladder().ways_in(SUBJECT, ALL)
    assert tour.ladder().ways_in(SUBJECT, ALL) == first
    assert first.budget.failures == 0


@pytest.mark.parametrize(
    ("enrolled", "options", "field"),
    [
        ("password", {}, "enrolled"),
        (["smart_card"], {}, "enrolled"),
        ([Way.PASSWORD], {"level": 4}, "level"),
        ([Way.PASSWORD], {"level": True}, "level"),
        ([Way.PASSWORD], {"delivery": "lost"}, "delivery"),
    ],
)
def test_a_malformed_question_is_invalid_input(
    tour: Tour, enrolled: object, options: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        tour.ladder().ways_in(SUBJECT, enrolled, **options)  # type: ignore[arg-type]
    assert raised.value.field == field
