"""Email OTP over the sidecar answers exactly what the library answers, with the library's errors."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from sidecars import Running, Serve, ServeProcess

from verifykit import (
    ChallengeClosed,
    ChallengeNotFound,
    InvalidInput,
    RateLimited,
    Reason,
    StoreUnavailable,
    Way,
)
from verifykit._wire import email_otp_pb2, email_otp_pb2_grpc
from verifykit.aio import AsyncMemoryStore, open_store
from verifykit.client import Client
from verifykit.otp import DeliveryStatus, OTPSettings
from verifykit.store import ChallengeStatus, MemoryStore
from verifykit.testing import FakeClock, last_code

UNKNOWN_ID = "a" * 26 + "." + "b" * 22


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"


def test_start_returns_a_pending_challenge_with_the_destination_masked(sidecar: Running) -> None:
    challenge = sidecar.client.email_otp.start("applicant-1", "ana.putri@example.co.id", locale="id")
    assert challenge.status is ChallengeStatus.PENDING
    assert challenge.destination == "a***@example.co.id"
    assert challenge.delivery == DeliveryStatus.SENT
    assert challenge.attempts_left == 5
    assert challenge.sends == 1
    assert challenge.expires_at > challenge.created_at
    assert len(sidecar.outbox) == 1


def test_a_wrong_code_is_a_verdict_and_the_right_one_approves_once(sidecar: Running) -> None:
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    code = last_code(sidecar.outbox)

    first = otp.check(challenge.id, wrong(code))
    assert (first.approved, first.reason, first.attempts_left) == (False, Reason.WRONG_CODE, 4)
    assert first.challenge_id == challenge.id

    second = otp.check(challenge.id, f"{code[:3]} {code[3:]}")
    assert (second.approved, second.reason) == (True, Reason.APPROVED)

    replay = otp.check(challenge.id, code)
    assert (replay.approved, replay.reason) == (False, Reason.REPLAYED)


def test_exhausting_the_attempts_offers_other_ways_in(sidecar: Running) -> None:
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    code = last_code(sidecar.outbox)
    verdicts = [otp.check(challenge.id, wrong(code)) for _ in range(5)]
    assert verdicts[-1].attempts_left == 0
    assert verdicts[-1].ways_in  # the ladder: another way in
    assert otp.status(challenge.id).status is ChallengeStatus.DENIED


def test_a_start_whose_mail_fails_offers_a_new_code_the_ways_the_person_has_and_the_counter(
    sidecar: Running,
) -> None:
    sidecar.outbox.fail_next(1)
    otp = sidecar.client.email_otp
    enrolled = [Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE]
    challenge = otp.start("applicant-1", "ana@example.com", enrolled=enrolled)
    assert challenge.delivery == DeliveryStatus.FAILED
    offered = (Way.EMAIL_CODE, Way.AUTHENTICATOR_APP, Way.RECOVERY_CODE, Way.COUNTER_VOUCHER)
    assert challenge.ways_in == offered
    assert otp.status(challenge.id, enrolled=enrolled).ways_in == offered


def test_ways_in_are_offered_as_each_call_names_them(sidecar: Running) -> None:
    sidecar.outbox.fail_next(1)
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com", enrolled=["authenticator_app"])
    assert otp.status(challenge.id).ways_in == (Way.EMAIL_CODE, Way.COUNTER_VOUCHER)


def test_an_enrolled_way_this_server_does_not_know_is_invalid_argument_and_nothing_is_sent(
    sidecar: Running,
) -> None:
    stub = email_otp_pb2_grpc.EmailOtpServiceStub(sidecar.client.channel)
    request = email_otp_pb2.StartEmailOtpRequest(
        subject="applicant-1", email="ana@example.com", enrolled=[99]
    )
    with pytest.raises(grpc.RpcError) as caught:
        stub.StartEmailOtp(request, timeout=10)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert len(sidecar.outbox) == 0


def test_the_client_refuses_an_enrolled_name_that_is_no_way_in(sidecar: Running) -> None:
    with pytest.raises(InvalidInput) as caught:
        sidecar.client.email_otp.start("applicant-1", "ana@example.com", enrolled=["sms"])
    assert caught.value.field == "enrolled"
    assert len(sidecar.outbox) == 0


def test_status_and_cancel_report_the_challenge(sidecar: Running) -> None:
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    assert otp.status(challenge.id).status is ChallengeStatus.PENDING
    assert otp.cancel(challenge.id).status is ChallengeStatus.CANCELED
    assert otp.cancel(challenge.id).status is ChallengeStatus.CANCELED  # idempotent
    assert otp.check(challenge.id, last_code(sidecar.outbox)).reason is Reason.CANCELED


def test_an_old_code_approves_after_a_resend_and_the_verdict_names_its_send(serve: Serve) -> None:
    running = serve(otp_settings=OTPSettings(resend_cooldown=0))
    otp = running.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    old = last_code(running.outbox)
    assert otp.resend(challenge.id).live_sends == 2
    assert otp.status(challenge.id).live_sends == 2
    stub = email_otp_pb2_grpc.EmailOtpServiceStub(running.client.channel)
    response = stub.CheckEmailOtp(email_otp_pb2.CheckEmailOtpRequest(challenge_id=challenge.id, code=old))
    assert response.verdict.approved and response.send == 1
    assert response.verdict.details["send"] == "1"
    assert otp.check(challenge.id, old).reason is Reason.REPLAYED


def test_the_client_verdict_names_the_send_used(serve: Serve) -> None:
    running = serve(otp_settings=OTPSettings(resend_cooldown=0))
    otp = running.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    otp.resend(challenge.id)
    assert otp.check(challenge.id, last_code(running.outbox)).details["send"] == "2"


def test_with_one_live_send_a_resend_retires_the_old_code(serve: Serve) -> None:
    running = serve(otp_settings=OTPSettings(resend_cooldown=0, live_sends=1))
    otp = running.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    old = last_code(running.outbox)
    again = otp.resend(challenge.id)
    assert again.sends == 2
    new = last_code(running.outbox)
    if new != old:
        assert otp.check(challenge.id, old).reason is Reason.WRONG_CODE
    assert otp.check(challenge.id, new).approved


def test_a_sidecar_configured_with_one_live_send_refuses_the_old_code_after_a_resend(serve: Serve) -> None:
    clock = FakeClock()
    running = serve(store=AsyncMemoryStore(MemoryStore(clock=clock)), otp_live_sends=1)
    otp = running.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    old = last_code(running.outbox)
    clock.advance(OTPSettings().resend_cooldown)  # the sidecar keeps the library's cooldown
    assert otp.resend(challenge.id).live_sends == 1
    new = last_code(running.outbox)
    if new != old:  # one chance in a million that the new code is the same
        assert otp.check(challenge.id, old).reason is Reason.WRONG_CODE
    assert otp.check(challenge.id, new).approved


def test_a_sidecar_started_with_a_time_zone_states_request_times_in_it(
    serve_process: ServeProcess, tmp_path: Path
) -> None:
    mail = tmp_path / "mail"
    process = serve_process(
        "--mailer", f"file:{mail}", "--otp-time-zone", "Asia/Jakarta", env={"VERIFYKIT_AUDIT_LOG": "false"}
    )
    with Client(process.target) as client:
        client.email_otp.start("applicant-1", "ana@example.co.id", locale="id")
    (sent,) = mail.glob("*.eml")
    message = message_from_bytes(sent.read_bytes(), policy=policy.default)
    assert re.search(r"\(kode 1 dari 1, diminta \d\d\.\d\d WIB\)$", str(message["Subject"]))


def test_resend_during_the_cooldown_is_resource_exhausted_with_retry_info(sidecar: Running) -> None:
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    with pytest.raises(RateLimited) as caught:
        otp.resend(challenge.id)
    assert caught.value.reason == "resend_cooldown"
    assert 0 < caught.value.retry_after <= 30


def test_rate_limited_status_carries_retry_info_and_a_plain_retry_after_trailer(sidecar: Running) -> None:
    stub = email_otp_pb2_grpc.EmailOtpServiceStub(sidecar.client.channel)
    challenge = sidecar.client.email_otp.start("applicant-1", "ana@example.com")
    with pytest.raises(grpc.RpcError) as caught:
        stub.ResendEmailOtp(email_otp_pb2.ResendEmailOtpRequest(challenge_id=challenge.id), timeout=10)
    error = caught.value
    assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
    trailers = dict(error.trailing_metadata())
    assert 1 <= int(trailers["retry-after"]) <= 30
    status = rpc_status.from_call(error)
    assert status is not None
    retry = error_details_pb2.RetryInfo()
    assert any(d.Unpack(retry) for d in status.details if d.Is(retry.DESCRIPTOR))
    assert 0 < retry.retry_delay.ToNanoseconds() / 1e9 <= 30


def test_a_malformed_challenge_id_is_invalid_argument(sidecar: Running) -> None:
    with pytest.raises(InvalidInput) as caught:
        sidecar.client.email_otp.check("not-an-id", "123456")
    assert caught.value.field == "challenge_id"


def test_a_bad_email_address_is_invalid_argument_and_nothing_is_sent(sidecar: Running) -> None:
    with pytest.raises(InvalidInput):
        sidecar.client.email_otp.start("applicant-1", "not an address")
    assert len(sidecar.outbox) == 0


def test_an_unknown_challenge_is_not_found(sidecar: Running) -> None:
    with pytest.raises(ChallengeNotFound):
        sidecar.client.email_otp.status(UNKNOWN_ID)


def test_resending_a_closed_challenge_is_failed_precondition(sidecar: Running) -> None:
    otp = sidecar.client.email_otp
    challenge = otp.start("applicant-1", "ana@example.com")
    otp.cancel(challenge.id)
    with pytest.raises(ChallengeClosed) as caught:
        otp.resend(challenge.id)
    assert caught.value.status == "canceled"


def test_status_codes_on_the_wire_follow_the_mapping(sidecar: Running) -> None:
    stub = email_otp_pb2_grpc.EmailOtpServiceStub(sidecar.client.channel)
    cases = [
        (
            stub.CheckEmailOtp,
            email_otp_pb2.CheckEmailOtpRequest(challenge_id="x", code="1"),
            "INVALID_ARGUMENT",
        ),
        (
            stub.GetEmailOtpStatus,
            email_otp_pb2.GetEmailOtpStatusRequest(challenge_id=UNKNOWN_ID),
            "NOT_FOUND",
        ),
    ]
    challenge = sidecar.client.email_otp.start("applicant-1", "ana@example.com")
    sidecar.client.email_otp.cancel(challenge.id)
    cases.append(
        (
            stub.ResendEmailOtp,
            email_otp_pb2.ResendEmailOtpRequest(challenge_id=challenge.id),
            "FAILED_PRECONDITION",
        )
    )
    for method, request, expected in cases:
        with pytest.raises(grpc.RpcError) as caught:
            method(request, timeout=10)
        assert caught.value.code().name == expected


def test_a_store_that_does_not_answer_is_unavailable_and_nothing_is_approved(serve: Serve) -> None:
    dead = open_store("redis://127.0.0.1:1/0", socket_timeout=0.2)
    running = serve(store=dead)
    with pytest.raises(StoreUnavailable):
        running.client.email_otp.start("applicant-1", "ana@example.com")
    with pytest.raises(grpc.RpcError) as caught:
        email_otp_pb2_grpc.EmailOtpServiceStub(running.client.channel).CheckEmailOtp(
            email_otp_pb2.CheckEmailOtpRequest(challenge_id=UNKNOWN_ID, code="123456"), timeout=10
        )
    assert caught.value.code() is grpc.StatusCode.UNAVAILABLE
