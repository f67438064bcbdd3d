"""Late mail: the codes of a challenge's last few sends stay valid, each until its own expiry.

Every test runs over both flavours and every store backend (fixtures in conftest.py), except those
that need a clock only the test moves (``memory_otp``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from verifykit import ConfigurationError, Reason, Verdict
from verifykit.otp import OTPSettings
from verifykit.store import ChallengeStatus
from verifykit.testing import FakeClock, Outbox, code_in, last_code

MakeOTP = Callable[..., Any]
NO_COOLDOWN = {"resend_cooldown": 0, "resend_cooldown_max": 0}


def _wrong(*codes: str) -> str:
    """A code that is none of ``codes``."""
    candidate = int(codes[0])
    while f"{candidate:06d}" in codes:
        candidate = (candidate + 1) % 10**6
    return f"{candidate:06d}"


def _two_sends(otp: Any, outbox: Outbox) -> tuple[str, str, str]:
    """A challenge with two sends whose codes differ (a repeat draw, one in a million, is redrawn)."""
    while True:
        ch = otp.start("user-1", "ana@example.com")
        first = last_code(outbox)
        otp.resend(ch.id)
        second = last_code(outbox)
        if first != second:
            return ch.id, first, second
        otp.cancel(ch.id)


def _poll(condition: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.05)


def test_the_first_code_approves_after_a_resend_and_names_its_send(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(**NO_COOLDOWN)
    cid, first, _second = _two_sends(otp, outbox)
    verdict = otp.check(cid, first)
    assert verdict.approved and verdict.details["send"] == "1"


def test_an_old_code_approves_only_once(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(**NO_COOLDOWN)
    cid, first, _second = _two_sends(otp, outbox)
    assert otp.check(cid, first).approved
    replay = otp.check(cid, first)
    assert not replay.approved and replay.reason is Reason.REPLAYED


def test_after_one_code_approves_the_other_is_refused(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(**NO_COOLDOWN)
    cid, first, second = _two_sends(otp, outbox)
    assert otp.check(cid, first).approved
    other = otp.check(cid, second)
    assert not other.approved and other.reason is Reason.REPLAYED


def test_the_newest_code_names_the_newest_send(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(**NO_COOLDOWN)
    cid, _first, second = _two_sends(otp, outbox)
    assert otp.check(cid, second).details["send"] == "2"


def test_both_codes_racing_approve_exactly_once(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(max_attempts=20, **NO_COOLDOWN)
    cid, first, second = _two_sends(otp, outbox)
    barrier = threading.Barrier(20)
    verdicts: list[Verdict] = []

    def go(code: str) -> None:
        barrier.wait()
        verdicts.append(otp.check(cid, code))

    threads = [threading.Thread(target=go, args=(first if i % 2 else second,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(v.approved for v in verdicts) == 1
    assert {v.reason for v in verdicts if not v.approved} == {Reason.REPLAYED}


def test_the_codes_share_one_attempt_budget(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(max_attempts=3, **NO_COOLDOWN)
    cid, first, second = _two_sends(otp, outbox)
    wrong = _wrong(first, second)
    reasons = [otp.check(cid, wrong).reason for _ in range(3)]
    assert reasons == [Reason.WRONG_CODE, Reason.WRONG_CODE, Reason.ATTEMPTS_EXHAUSTED]
    assert otp.check(cid, first).reason is Reason.ATTEMPTS_EXHAUSTED


def test_only_the_last_live_sends_codes_stay_valid(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(live_sends=2, **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    codes = [last_code(outbox)]
    for _ in range(2):
        otp.resend(ch.id)
        codes.append(last_code(outbox))
    if codes[0] not in codes[1:]:
        assert otp.check(ch.id, codes[0]).reason is Reason.WRONG_CODE
    assert otp.check(ch.id, codes[1]).details["send"] == "2"


def test_with_one_live_send_the_first_code_fails_after_a_resend(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(live_sends=1, **NO_COOLDOWN)
    cid, first, second = _two_sends(otp, outbox)
    assert otp.check(cid, first).reason is Reason.WRONG_CODE
    verdict = otp.check(cid, second)
    assert verdict.approved and verdict.details["send"] == "2"


def test_status_tells_how_many_sends_are_live(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp(live_sends=2, **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    assert ch.live_sends == 1
    assert otp.resend(ch.id).live_sends == 2
    assert otp.resend(ch.id).live_sends == 2
    assert otp.status(ch.id).live_sends == 2


def test_a_closed_challenge_has_no_live_sends(make_otp: MakeOTP, outbox) -> None:
    otp = make_otp()
    ch = otp.start("user-1", "ana@example.com")
    otp.check(ch.id, last_code(outbox))
    assert otp.status(ch.id).live_sends == 0


def test_a_code_past_its_own_expiry_fails_while_a_newer_one_is_live(
    memory_otp: MakeOTP, clock: FakeClock, outbox
) -> None:
    otp = memory_otp(ttl=600, **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    first = last_code(outbox)
    clock.advance(300)
    otp.resend(ch.id)
    second = last_code(outbox)
    clock.advance(300)  # the first code's own expiry; the second has 300 s left
    assert otp.status(ch.id).live_sends == 1
    if first != second:
        assert otp.check(ch.id, first).reason is Reason.WRONG_CODE
    verdict = otp.check(ch.id, second)
    assert verdict.approved and verdict.details["send"] == "2"


def test_a_code_just_before_its_own_expiry_still_approves(
    memory_otp: MakeOTP, clock: FakeClock, outbox
) -> None:
    otp = memory_otp(ttl=600, **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    first = last_code(outbox)
    clock.advance(300)
    otp.resend(ch.id)
    clock.advance(299.999)
    assert otp.check(ch.id, first).approved


def test_a_code_past_its_own_expiry_fails_on_the_stores_own_clock(make_otp: MakeOTP, store, outbox) -> None:
    """The same, on every backend: short real TTLs, and the store's clock polled, never guessed."""
    ttl = 4.0
    otp = make_otp(ttl=ttl, **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    first = last_code(outbox)
    _poll(lambda: store.now() >= ch.created_at + ttl / 2, "half the first code's life has passed")
    otp.resend(ch.id)
    second = last_code(outbox)
    _poll(lambda: otp.status(ch.id).live_sends == 1, "the first code has expired")
    assert otp.status(ch.id).status is ChallengeStatus.PENDING
    if first != second:
        assert otp.check(ch.id, first).reason is Reason.WRONG_CODE
    assert otp.check(ch.id, second).details["send"] == "2"


def test_messages_name_their_send_and_when_it_was_requested(
    memory_otp: MakeOTP, clock: FakeClock, outbox
) -> None:
    clock.set(1_700_000_000)  # 22:13:20 UTC
    otp = memory_otp(**NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com")
    clock.advance(9 * 60)
    otp.resend(ch.id)
    subjects = [m["Subject"] for m in outbox.messages]
    assert subjects[0].endswith("(code 1 of 1, requested 22:13 UTC)")
    assert subjects[1].endswith("(code 2 of 2, requested 22:22 UTC)")
    assert "This is code 2 of 2, requested 22:22 UTC." in outbox.last().get_body(("plain",)).get_content()


def test_messages_in_bahasa_indonesia_use_the_settings_time_zone(
    memory_otp: MakeOTP, clock: FakeClock, outbox
) -> None:
    clock.set(1_700_000_000)  # 05:13:20 in Jakarta (WIB, UTC+7)
    otp = memory_otp(time_zone="Asia/Jakarta", **NO_COOLDOWN)
    ch = otp.start("user-1", "ana@example.com", locale="id")
    clock.advance(9 * 60)
    otp.resend(ch.id)
    message = outbox.last()
    assert message["Subject"].endswith("(kode 2 dari 2, diminta 05.22 WIB)")
    assert "Ini kode 2 dari 2, diminta 05.22 WIB." in message.get_body(("plain",)).get_content()
    assert otp.check(ch.id, code_in(message)).approved


@pytest.mark.parametrize("live_sends", [0, 6, True])
def test_live_sends_outside_one_to_five_is_a_configuration_error(live_sends: int) -> None:
    with pytest.raises(ConfigurationError):
        OTPSettings(live_sends=live_sends)


def test_an_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        OTPSettings(time_zone="Mars/Olympus_Mons")


def test_an_unsupported_default_locale_is_refused_with_the_settings() -> None:
    with pytest.raises(ConfigurationError, match="default_locale"):
        OTPSettings(default_locale="xx")
