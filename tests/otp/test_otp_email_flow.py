"""Email OTP behaviour, the same on every store backend."""

from __future__ import annotations

import asyncio
import base64
import re
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from verifykit import (
    AuditEvent,
    ChallengeClosed,
    ChallengeNotFound,
    ConfigurationError,
    InvalidInput,
    RateLimited,
    Reason,
    StoreUnavailable,
    Verdict,
    Way,
    aio,
)
from verifykit.otp import EmailOTP, OTPSettings
from verifykit.store import ChallengeStatus, LockoutPolicy, MemoryStore, WindowPolicy, open_store
from verifykit.testing import code_in, last_code

MakeOTP = Callable[..., Any]


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_the_code_sent_by_email_approves_the_challenge(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    verdict = otp.check(ch.id, last_code(outbox))
    assert verdict.approved and verdict.reason is Reason.APPROVED
    assert otp.status(ch.id).status is ChallengeStatus.APPROVED


def test_an_approval_has_no_attempts_left_to_count(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    otp.check(ch.id, _wrong(last_code(outbox)))
    assert otp.check(ch.id, last_code(outbox)).attempts_left is None


def test_start_reports_masked_destination_expiry_attempts_and_delivery(make_otp: MakeOTP) -> None:
    ch = make_otp().start("user-1", "ana@example.com")
    assert ch.destination == "a***@example.com"
    assert ch.expires_at - ch.created_at == pytest.approx(600, abs=1)
    assert ch.attempts_left == 5
    assert ch.delivery == "sent"
    assert ch.resend_after == pytest.approx(30, abs=1)
    assert ch.status is ChallengeStatus.PENDING


def test_challenge_ids_carry_at_least_128_random_bits(make_otp: MakeOTP) -> None:
    otp = make_otp()
    ids = {otp.start("user-1", f"a{i}@example.com").id for i in range(3)}
    assert len(ids) == 3
    for cid in ids:
        _tag, _, rand = cid.partition(".")
        assert re.fullmatch(r"[A-Za-z0-9_-]+", rand)
        assert len(base64.urlsafe_b64decode(rand + "==")) * 8 >= 128


def test_the_store_holds_neither_the_code_nor_the_address(make_otp: MakeOTP, store, outbox) -> None:
    ch = make_otp().start("user-1", "ana@example.com")
    record = store.get(ch.id)
    code = last_code(outbox)
    flat = repr(record)
    assert code not in flat.replace(ch.id, "")
    assert "ana@example.com" not in flat
    assert record.secret.startswith("k1:") and len(record.secret) == 3 + 64


def test_codes_have_the_configured_number_of_digits(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(digits=8)
    ch = otp.start("user-1", "ana@example.com")
    code = last_code(outbox)
    assert len(code) == 8
    assert otp.check(ch.id, code).approved


def test_a_wrong_code_spends_one_attempt(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    verdict = otp.check(ch.id, _wrong(last_code(outbox)))
    assert not verdict.approved
    assert verdict.reason is Reason.WRONG_CODE
    assert verdict.attempts_left == 4


def test_the_last_wrong_code_denies_and_the_right_one_no_longer_works(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(max_attempts=3)
    ch = otp.start("user-1", "ana@example.com")
    code = last_code(outbox)
    reasons = [otp.check(ch.id, _wrong(code)).reason for _ in range(3)]
    assert reasons == [Reason.WRONG_CODE, Reason.WRONG_CODE, Reason.ATTEMPTS_EXHAUSTED]
    after = otp.check(ch.id, code)
    assert not after.approved and after.reason is Reason.ATTEMPTS_EXHAUSTED
    assert otp.status(ch.id).status is ChallengeStatus.DENIED


def test_exhausted_attempts_offer_other_ways_in(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(max_attempts=1)
    ch = otp.start("user-1", "ana@example.com")
    verdict = otp.check(ch.id, _wrong(last_code(outbox)))
    assert Way.COUNTER_VOUCHER in verdict.ways_in


def test_a_used_code_is_refused_as_replayed(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    code = last_code(outbox)
    assert otp.check(ch.id, code).approved
    replay = otp.check(ch.id, code)
    assert not replay.approved and replay.reason is Reason.REPLAYED


@pytest.mark.parametrize("typed", ["{a} {b}", "{a}-{b}", " {a}{b} ", "{fw}"])
def test_codes_are_accepted_as_people_type_them(make_otp: MakeOTP, outbox, typed: str) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    code = last_code(outbox)
    fullwidth = "".join(chr(0xFF10 + int(d)) for d in code)
    assert otp.check(ch.id, typed.format(a=code[:3], b=code[3:], fw=fullwidth)).approved


@pytest.mark.parametrize("bad", ["12345", "1234567", "12a456", "", "١٢٣٤٥٦٧"])
def test_malformed_codes_are_invalid_input_and_spend_nothing(make_otp: MakeOTP, bad: str) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    with pytest.raises(InvalidInput):
        otp.check(ch.id, bad)
    assert otp.status(ch.id).attempts_left == 5


def test_codes_in_other_scripts_digits_are_read_by_value(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    arabic_indic = "".join(chr(0x0660 + int(d)) for d in last_code(outbox))
    assert otp.check(ch.id, arabic_indic).approved


def test_a_code_after_expiry_is_refused(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(ttl=0.3)
    ch = otp.start("user-1", "ana@example.com")
    deadline = time.monotonic() + 10  # the store's own clock decides; poll it rather than guess
    while otp.status(ch.id).status is ChallengeStatus.PENDING and time.monotonic() < deadline:
        time.sleep(0.05)
    verdict = otp.check(ch.id, last_code(outbox))
    assert not verdict.approved and verdict.reason is Reason.EXPIRED
    assert otp.status(ch.id).status is ChallengeStatus.EXPIRED


def test_a_resend_inside_the_cooldown_is_refused_with_retry_after(make_otp: MakeOTP) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    with pytest.raises(RateLimited) as info:
        otp.resend(ch.id)
    assert info.value.reason == "resend_cooldown"
    assert 25 < info.value.retry_after <= 30


def test_with_one_live_send_a_resend_retires_the_old_code(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(resend_cooldown=0, resend_cooldown_max=0, live_sends=1)
    ch = otp.start("user-1", "ana@example.com")
    old = last_code(outbox)
    again = otp.resend(ch.id)
    new = last_code(outbox)
    assert again.sends == 2 and len(outbox.messages) == 2
    if new != old:
        assert otp.check(ch.id, old).reason is Reason.WRONG_CODE
    assert otp.check(ch.id, new).approved


def test_a_resend_does_not_restore_spent_attempts(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(resend_cooldown=0, resend_cooldown_max=0)
    ch = otp.start("user-1", "ana@example.com")
    otp.check(ch.id, _wrong(last_code(outbox)))
    assert otp.resend(ch.id).attempts_left == 4


def test_the_resend_cooldown_grows_with_each_resend(memory_otp: MakeOTP, clock) -> None:
    otp = memory_otp(resend_cooldown=30, resend_factor=2, resend_cooldown_max=300)
    ch = otp.start("user-1", "ana@example.com")
    clock.advance(30)
    assert otp.resend(ch.id).resend_after == pytest.approx(60)
    clock.advance(60)
    assert otp.resend(ch.id).resend_after == pytest.approx(120)


def test_resends_stop_at_max_sends(make_otp: MakeOTP) -> None:
    otp = make_otp(resend_cooldown=0, resend_cooldown_max=0, max_sends=2)
    ch = otp.start("user-1", "ana@example.com")
    otp.resend(ch.id)
    with pytest.raises(RateLimited) as info:
        otp.resend(ch.id)
    assert info.value.reason == "max_sends"


def test_sends_to_one_address_are_limited_with_retry_after(make_otp: MakeOTP) -> None:
    otp = make_otp(destination_limit=WindowPolicy(limit=3, window=600), subject_limit=None)
    for i in range(3):
        otp.start(f"user-{i}", "ana@example.com")
    with pytest.raises(RateLimited) as info:
        otp.start("user-9", "ANA@Example.com")
    assert info.value.reason == "destination_limit"
    assert 590 < info.value.retry_after <= 600


def test_new_challenges_per_subject_are_limited(make_otp: MakeOTP) -> None:
    otp = make_otp(subject_limit=WindowPolicy(limit=2, window=3600))
    otp.start("user-1", "a1@example.com")
    otp.start("user-1", "a2@example.com")
    with pytest.raises(RateLimited) as info:
        otp.start("user-1", "a3@example.com")
    assert info.value.reason == "subject_limit"


def test_failed_codes_across_challenges_lock_the_subject_out(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(lockout=LockoutPolicy(threshold=3, lockout=60, lockout_max=600, hard_cap=100))
    for i in range(3):
        ch = otp.start("user-1", f"a{i}@example.com")
        otp.check(ch.id, _wrong(last_code(outbox)))
    verdict = otp.check(ch.id, last_code(outbox))
    assert not verdict.approved and verdict.reason is Reason.LOCKED_OUT
    assert 50 < verdict.retry_after <= 60
    assert Way.COUNTER_VOUCHER in verdict.ways_in


def test_a_locked_out_subject_cannot_start_a_new_challenge(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(lockout=LockoutPolicy(threshold=2, lockout=60, lockout_max=600, hard_cap=100))
    for i in range(2):
        ch = otp.start("user-1", f"a{i}@example.com")
        otp.check(ch.id, _wrong(last_code(outbox)))
    with pytest.raises(RateLimited) as info:
        otp.start("user-1", "b@example.com")
    assert info.value.reason == "locked_out"


def test_a_start_refused_by_the_lockout_is_audited_and_sends_nothing(
    make_otp: MakeOTP, outbox, events: list[AuditEvent]
) -> None:
    otp = make_otp(lockout=LockoutPolicy(threshold=1, lockout=60, lockout_max=600, hard_cap=100))
    ch = otp.start("user-1", "a@example.com")
    otp.check(ch.id, _wrong(last_code(outbox)))
    sent = len(outbox.messages)
    with pytest.raises(RateLimited):
        otp.start("user-1", "b@example.com")
    refused = events[-1]
    assert (refused.action, refused.outcome, refused.reason) == ("limit", "refused", "locked_out")
    assert refused.subject == "user-1"
    assert len(outbox.messages) == sent


def test_a_lockout_does_not_spend_the_challenges_attempts(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(lockout=LockoutPolicy(threshold=1, lockout=60, lockout_max=600, hard_cap=100))
    ch = otp.start("user-1", "a@example.com")
    otp.check(ch.id, _wrong(last_code(outbox)))
    assert otp.check(ch.id, last_code(outbox)).reason is Reason.LOCKED_OUT
    assert otp.status(ch.id).attempts_left == 4


def test_an_approval_clears_the_subjects_failures(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(lockout=LockoutPolicy(threshold=2, lockout=60, lockout_max=600, hard_cap=100))
    ch = otp.start("user-1", "a@example.com")
    otp.check(ch.id, _wrong(last_code(outbox)))
    assert otp.check(ch.id, last_code(outbox)).approved
    ch2 = otp.start("user-1", "b@example.com")
    assert otp.check(ch2.id, _wrong(last_code(outbox))).reason is Reason.WRONG_CODE


def test_cancel_closes_a_pending_challenge(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "a@example.com")
    assert otp.cancel(ch.id).status is ChallengeStatus.CANCELED
    verdict = otp.check(ch.id, last_code(outbox))
    assert not verdict.approved and verdict.reason is Reason.CANCELED


def test_cancel_leaves_a_finished_challenge_as_it_was(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "a@example.com")
    otp.check(ch.id, last_code(outbox))
    assert otp.cancel(ch.id).status is ChallengeStatus.APPROVED


def test_resend_of_a_finished_challenge_is_refused(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(resend_cooldown=0, resend_cooldown_max=0)
    ch = otp.start("user-1", "a@example.com")
    otp.check(ch.id, last_code(outbox))
    with pytest.raises(ChallengeClosed) as info:
        otp.resend(ch.id)
    assert info.value.status == "approved"


def test_an_unknown_challenge_is_not_found(make_otp: MakeOTP) -> None:
    otp = make_otp()
    unknown = "a" * 26 + ".AAAAAAAAAAAAAAAAAAAAAA"
    with pytest.raises(ChallengeNotFound):
        otp.status(unknown)
    with pytest.raises(ChallengeNotFound):
        otp.check(unknown, "123456")


@pytest.mark.parametrize("bad", ["", "nope", "x" * 300, "a" * 26 + ".short", None])
def test_a_malformed_challenge_id_is_invalid_input(make_otp: MakeOTP, bad) -> None:
    with pytest.raises(InvalidInput):
        make_otp().check(bad, "123456")


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "a@b", "a@@example.com", "a@example.com\r\nBcc: x@evil.com", "a" * 250 + "@ex.com"],
)
def test_a_bad_address_is_invalid_input_and_sends_and_stores_nothing(
    make_otp: MakeOTP, outbox, email: str
) -> None:
    otp = make_otp(
        destination_limit=WindowPolicy(limit=1, window=600), subject_limit=WindowPolicy(limit=1, window=60)
    )
    with pytest.raises(InvalidInput):
        otp.start("user-1", email)
    assert outbox.messages == []
    otp.start("user-1", "ok@example.com")  # no limit was spent by the bad request


@pytest.mark.parametrize("subject", ["", "x" * 257, "a\nb", 42])
def test_a_bad_subject_is_invalid_input(make_otp: MakeOTP, subject) -> None:
    with pytest.raises(InvalidInput):
        make_otp().start(subject, "a@example.com")


def test_an_unknown_locale_is_invalid_input(make_otp: MakeOTP, outbox) -> None:
    with pytest.raises(InvalidInput):
        make_otp().start("user-1", "a@example.com", locale="xx")
    assert outbox.messages == []


def test_messages_can_be_sent_in_bahasa_indonesia(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "a@example.com", locale="id")
    message = outbox.last()
    assert message["Content-Language"] == "id" or "kode" in message.get_body(("plain",)).get_content().lower()
    assert otp.check(ch.id, code_in(message)).approved


def test_a_failed_delivery_is_recorded_and_offers_other_ways_in(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    outbox.fail_next(1, temporary=True)
    ch = otp.start("user-1", "a@example.com")
    assert ch.delivery == "failed" and ch.delivery_reason.startswith("temporary")
    assert ch.ways_in[0] is Way.EMAIL_CODE and Way.COUNTER_VOUCHER in ch.ways_in
    assert otp.status(ch.id).delivery == "failed"


def test_a_resend_after_a_failed_delivery_delivers_a_working_code(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(resend_cooldown=0, resend_cooldown_max=0)
    outbox.fail_next(1, temporary=True)
    ch = otp.start("user-1", "a@example.com")
    assert otp.resend(ch.id).delivery == "sent"
    assert otp.check(ch.id, last_code(outbox)).approved


def test_the_callers_ways_in_are_offered(otp_for, store, keyring, outbox) -> None:
    otp = otp_for(
        store=store,
        keyring=keyring,
        mailer=outbox,
        ways_in=lambda subject: (Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE),
        audit=None,
    )
    outbox.fail_next(1)
    ch = otp.start("user-1", "a@example.com")
    assert ch.ways_in == (Way.EMAIL_CODE, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE)


def test_codes_still_verify_after_a_new_key_is_rotated_in(otp_for, store, outbox) -> None:
    from verifykit import Keyring

    old = Keyring.new_keyring_string("k1")
    before = otp_for(store=store, keyring=Keyring.from_string(old), mailer=outbox, audit=None)
    ch = before.start("user-1", "a@example.com")
    after = otp_for(
        store=store,
        keyring=Keyring.from_string(old + "," + Keyring.new_key_string("k2")),
        mailer=outbox,
        audit=None,
    )
    assert after.check(ch.id, last_code(outbox)).approved


def test_audit_events_record_every_step_without_the_code_or_address(
    make_otp: MakeOTP, outbox, events
) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    code = last_code(outbox)
    otp.check(ch.id, _wrong(code))
    otp.check(ch.id, code)
    otp.cancel(ch.id)
    assert [(e.action, e.outcome) for e in events] == [
        ("start", "pending"),
        ("send", "sent"),
        ("check", "denied"),
        ("check", "approved"),
    ]
    for event in events:
        text = event.to_json()
        assert code not in text.replace(ch.id, "") and "ana@example.com" not in text
        assert event.destination == "a***@example.com"


def test_fifty_threads_with_the_right_code_approve_exactly_once(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(max_attempts=20)
    ch = otp.start("user-1", "a@example.com")
    code = last_code(outbox)
    barrier = threading.Barrier(50)
    verdicts = []

    def go() -> None:
        barrier.wait()
        verdicts.append(otp.check(ch.id, code))

    threads = [threading.Thread(target=go) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(v.approved for v in verdicts) == 1
    assert {v.reason for v in verdicts if not v.approved} == {Reason.REPLAYED}


def test_an_unreachable_store_fails_closed(otp_for, keyring, outbox) -> None:
    url, options = "redis://127.0.0.1:1/0", {"socket_timeout": 0.2, "socket_connect_timeout": 0.2}
    store = open_store(url, **options)
    otp = otp_for(store=store, url=url, store_options=options, keyring=keyring, mailer=outbox, audit=None)
    with pytest.raises(StoreUnavailable):
        otp.start("user-1", "a@example.com")
    with pytest.raises(StoreUnavailable):
        otp.check("a" * 26 + ".AAAAAAAAAAAAAAAAAAAAAA", "123456")
    assert outbox.messages == []


def test_fifty_tasks_in_one_loop_with_the_right_code_approve_exactly_once(
    store, async_twin, loop_thread, keyring, outbox
) -> None:
    # 50 connections open at once, each running the check script: on a loaded machine that can take
    # longer than the default 1 s connect and socket timeouts, which would fail closed and prove
    # nothing here.
    patient = {} if isinstance(store, MemoryStore) else {"socket_timeout": 60.0}
    otp = aio.EmailOTP(
        store=async_twin(store, **patient),
        keyring=keyring,
        mailer=outbox,
        settings=OTPSettings(max_attempts=20),
        audit=None,
    )

    async def race() -> list[Verdict]:
        ch = await otp.start("user-1", "a@example.com")
        code = last_code(outbox)
        return await asyncio.gather(*(otp.check(ch.id, code) for _ in range(50)))

    verdicts = loop_thread.run(race())
    assert sum(v.approved for v in verdicts) == 1
    assert {v.reason for v in verdicts if not v.approved} == {Reason.REPLAYED}


@pytest.mark.parametrize("cls", [EmailOTP, aio.EmailOTP], ids=["sync", "async"])
@pytest.mark.parametrize("missing", ["store", "keyring", "mailer"])
def test_store_keyring_and_mailer_are_never_defaulted(cls, missing: str, keyring, outbox) -> None:
    given = {"store": MemoryStore(), "keyring": keyring, "mailer": outbox}
    with pytest.raises(ConfigurationError):
        cls(**{**given, missing: None})
    del given[missing]
    with pytest.raises(TypeError):
        cls(**given)


def test_a_failed_delivery_may_be_resent_at_once_whatever_the_cooldown(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(resend_cooldown=60)
    outbox.fail_next(1, temporary=True)
    ch = otp.start("user-1", "a@example.com")
    assert ch.delivery == "failed" and ch.resend_after == 0.0
    assert otp.resend(ch.id).delivery == "sent"
    assert otp.check(ch.id, last_code(outbox)).approved


def test_a_checks_audit_record_says_when_its_challenge_started(
    make_otp: MakeOTP, outbox, events: list[AuditEvent]
) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "a@example.com")
    assert otp.check(ch.id, last_code(outbox)).approved
    check = events[-1]
    assert (check.action, check.outcome) == ("check", "approved")
    assert float(check.details["started_at"]) == pytest.approx(ch.created_at, abs=0.001)
