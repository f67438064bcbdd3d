"""Domain metrics: what people do (starts, deliveries, verdicts, approvals, lockouts, the ladder),
counted from the audit events the verifiers emit, with labels from the library's own names only.

The sidecar tests drive a real sidecar and read its real ``/metrics``; the sink tests hand
events to the counting sink directly, where exact times matter.
"""

from __future__ import annotations

import socket
import urllib.request
from email.message import EmailMessage

import pytest
from sidecars import Running, Serve

from verifykit import AuditEvent, DeliveryError, Keyring, Reason, StoreUnavailable, Way
from verifykit.aio import open_store
from verifykit.client import Client
from verifykit.delivery import Outbox
from verifykit.server import Components, ServerConfig, create_server
from verifykit.server._metrics import Metrics
from verifykit.testing import last_code

SUBJECT = "applicant-7731"
EMAIL = "ana.lima@example.com"


def scrape_text(running: Running) -> str:
    url = f"http://127.0.0.1:{running.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=30) as response:
        return str(response.read().decode())


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a scrape (0 when absent); labels in any order."""
    wanted = sorted(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        series, _, value = line.rpartition(" ")
        head, _, rest = series.partition("{")
        if head == name and sorted(filter(None, rest.rstrip("}").split(","))) == wanted:
            return float(value)
    return 0.0


def wrong(running: Running) -> str:
    """A code that is not the one just sent."""
    return "000000" if last_code(running.outbox) != "000000" else "111111"


class RefusingMailer:
    """A mail server that refuses every message, as one that is down for a while does."""

    def __init__(self, *, temporary: bool) -> None:
        self.temporary = temporary

    def send(self, message: EmailMessage) -> None:
        raise DeliveryError(f"421 mailbox of {message['To']} unavailable", temporary=self.temporary)


# -- through a sidecar ---------------------------------------------------------------------------


def test_a_start_and_its_approval_make_conversion_and_are_timed(serve: Serve) -> None:
    running = serve(metrics_port=0)
    otp = running.client.email_otp
    challenge = otp.start(SUBJECT, EMAIL)
    assert otp.check(challenge.id, last_code(running.outbox)).approved
    text = scrape_text(running)
    assert sample(text, "verifykit_starts_total", way="email_code") == 1
    assert sample(text, "verifykit_approvals_total", way="email_code") == 1
    assert sample(text, "verifykit_approval_seconds_count", way="email_code") == 1
    approved = {"way": "email_code", "outcome": "approved", "reason": "approved"}
    assert sample(text, "verifykit_checks_total", **approved) == 1


def test_a_sent_code_counts_as_a_delivery_sent(serve: Serve) -> None:
    running = serve(metrics_port=0)
    running.client.email_otp.start(SUBJECT, EMAIL)
    assert sample(scrape_text(running), "verifykit_deliveries_total", way="email_code", status="sent") == 1


@pytest.mark.parametrize(("temporary", "status"), [(True, "failed_temporary"), (False, "failed_permanent")])
def test_a_failed_delivery_counts_by_its_kind_and_never_by_its_text(
    serve: Serve, temporary: bool, status: str
) -> None:
    running = serve(metrics_port=0, mailer=RefusingMailer(temporary=temporary))
    running.client.email_otp.start(SUBJECT, EMAIL)
    text = scrape_text(running)
    assert sample(text, "verifykit_deliveries_total", way="email_code", status=status) == 1
    assert sample(text, "verifykit_starts_total", way="email_code") == 1
    assert "mailbox" not in text


def test_wrong_codes_count_as_verdicts_by_reason(serve: Serve) -> None:
    running = serve(metrics_port=0)
    otp = running.client.email_otp
    challenge = otp.start(SUBJECT, EMAIL)
    for _ in range(2):
        assert otp.check(challenge.id, wrong(running)).reason is Reason.WRONG_CODE
    text = scrape_text(running)
    denied = {"way": "email_code", "outcome": "denied", "reason": "wrong_code"}
    assert sample(text, "verifykit_checks_total", **denied) == 2
    assert sample(text, "verifykit_approvals_total", way="email_code") == 0


def test_a_locked_subject_counts_as_a_lockout_refusal_by_lock(serve: Serve) -> None:
    running = serve(metrics_port=0, lockout_hard_cap=2)
    totp = running.client.totp
    enrollment = totp.enroll(SUBJECT, EMAIL)
    for guess in ("000000", "999999"):  # the second wrong code reaches the hard cap of 2
        assert totp.verify(SUBJECT, enrollment.stored, guess).reason is Reason.WRONG_CODE
    assert totp.verify(SUBJECT, enrollment.stored, "123456").reason is Reason.HARD_LOCKED
    text = scrape_text(running)
    refusal = {"way": "authenticator_app", "lock": "hard_locked"}
    assert sample(text, "verifykit_lockout_refusals_total", **refusal) == 1
    assert sample(text, "verifykit_lockout_refusals_total", way="authenticator_app", lock="locked_out") == 0


def test_the_ways_in_the_ladder_offers_count_by_way(serve: Serve) -> None:
    running = serve(metrics_port=0)
    offer = running.client.ladder.ways_in(SUBJECT, [Way.AUTHENTICATOR_APP], delivery="failed")
    assert [rung.way for rung in offer.open] == [Way.AUTHENTICATOR_APP, Way.COUNTER_VOUCHER]
    text = scrape_text(running)
    for way in ("authenticator_app", "counter_voucher"):
        assert sample(text, "verifykit_ways_in_offered_total", way=way, by="ladder") == 1
    assert sample(text, "verifykit_ways_in_offered_total", way="recovery_code", by="ladder") == 0


def test_the_metrics_count_each_event_the_audit_sink_took() -> None:
    taken: list[AuditEvent] = []
    outbox = Outbox()
    config = ServerConfig(listen="127.0.0.1:0", metrics_port=0, access_log=False, grace=1.0)
    sidecar, port = create_server(
        config, Components(keyring=Keyring.generate(), mailer=outbox, audit=taken.append)
    )
    sidecar.start()
    try:
        with Client(f"127.0.0.1:{port}", timeout=30.0) as client:
            challenge = client.email_otp.start(SUBJECT, EMAIL)
            client.email_otp.check(challenge.id, "000000" if last_code(outbox) != "000000" else "111111")
            client.email_otp.check(challenge.id, last_code(outbox))
        with urllib.request.urlopen(f"http://127.0.0.1:{sidecar.metrics_port}/metrics", timeout=30) as answer:
            text = answer.read().decode()
    finally:
        sidecar.stop(0)
    assert [(e.action, e.outcome) for e in taken] == [
        ("start", "pending"),
        ("send", "sent"),
        ("check", "denied"),
        ("check", "approved"),
    ]
    for event in taken:
        labels = {"way": event.verifier, "action": event.action, "outcome": event.outcome}
        assert sample(text, "verifykit_decisions_total", **labels) == 1


def test_no_label_holds_a_subject_an_address_or_a_challenge(serve: Serve) -> None:
    running = serve(metrics_port=0)
    otp = running.client.email_otp
    challenge = otp.start(SUBJECT, EMAIL)
    otp.check(challenge.id, wrong(running))
    text = scrape_text(running)
    for personal in (SUBJECT, EMAIL, challenge.destination, challenge.id, challenge.id.partition(".")[0]):
        assert personal not in text


def dead_port() -> int:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        return int(held.getsockname()[1])


def test_a_store_that_does_not_answer_counts_as_a_store_error(serve: Serve) -> None:
    running = serve(metrics_port=0, store=open_store(f"redis://127.0.0.1:{dead_port()}/0?socket_timeout=0.5"))
    with pytest.raises(StoreUnavailable):
        running.client.email_otp.start(SUBJECT, EMAIL)
    method = "EmailOtpService/StartEmailOtp"
    assert (
        sample(scrape_text(running), "verifykit_errors_total", method=method, error="store_unavailable") == 1
    )


# -- the counting sink --------------------------------------------------------------------------


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


def event(action: str, outcome: str, at: float, reason: str = "", **details: str) -> AuditEvent:
    return AuditEvent(
        action, "email_code", SUBJECT, outcome, reason, challenge_id="tag.c1", at=at, details=details
    )


def value(metrics: Metrics, name: str, **labels: str) -> float:
    found = metrics.registry.get_sample_value(name, labels)
    return 0.0 if found is None else float(found)


def test_time_to_approval_runs_from_the_start_this_process_saw(metrics: Metrics) -> None:
    metrics.decided(event("start", "pending", 1000.0, expires_at="1600.000"))
    metrics.decided(event("check", "approved", 1042.5, "approved"))
    assert value(metrics, "verifykit_approval_seconds_sum", way="email_code") == 42.5
    assert value(metrics, "verifykit_approval_seconds_bucket", way="email_code", le="45.0") == 1
    assert value(metrics, "verifykit_approval_seconds_bucket", way="email_code", le="30.0") == 0


def test_time_to_approval_runs_from_the_start_the_event_carries(metrics: Metrics) -> None:
    metrics.decided(event("check", "approved", 1090.0, "approved", started_at="1000.000"))
    assert value(metrics, "verifykit_approval_seconds_sum", way="email_code") == 90.0


def test_a_resend_keeps_the_time_of_its_start(metrics: Metrics) -> None:
    metrics.decided(event("start", "pending", 1000.0, expires_at="1600.000"))
    metrics.decided(event("resend", "pending", 1100.0, expires_at="1700.000"))
    metrics.decided(event("check", "approved", 1150.0, "approved"))
    assert value(metrics, "verifykit_approval_seconds_sum", way="email_code") == 150.0


def test_an_approval_of_an_unseen_start_is_counted_but_not_timed(metrics: Metrics) -> None:
    metrics.decided(event("check", "approved", 1090.0, "approved"))
    assert value(metrics, "verifykit_approvals_total", way="email_code") == 1
    assert value(metrics, "verifykit_approval_seconds_count", way="email_code") == 0


def test_a_start_past_its_expiry_is_forgotten(metrics: Metrics) -> None:
    metrics.decided(event("start", "pending", 1000.0, expires_at="1600.000"))
    later = AuditEvent(
        "start", "email_code", "someone", "pending", challenge_id="tag.c2", at=1700.0,
        details={"expires_at": "2300.000"},
    )  # fmt: skip
    metrics.decided(later)
    metrics.decided(event("check", "approved", 1750.0, "approved"))
    assert value(metrics, "verifykit_approval_seconds_count", way="email_code") == 0


def test_values_outside_the_known_names_count_as_other(metrics: Metrics) -> None:
    metrics.decided(AuditEvent("frobnicate", "a***@example.com", SUBJECT, "maybe", "because I said so"))
    assert value(metrics, "verifykit_decisions_total", way="other", action="other", outcome="other") == 1


def test_a_voucher_redeemed_counts_by_the_officers_who_signed(metrics: Metrics) -> None:
    redeemed = AuditEvent(
        "redeem", "counter_voucher", SUBJECT, "approved", "approved", details={"officers": "k1,k2"}
    )
    metrics.decided(redeemed)
    assert value(metrics, "verifykit_vouchers_redeemed_total", officers="2") == 1
    assert value(metrics, "verifykit_approvals_total", way="counter_voucher") == 1


@pytest.mark.parametrize(("action", "ceremony"), [("enroll", "registration"), ("verify", "assertion")])
def test_passkey_ceremonies_count_by_kind_outcome_and_reason(
    metrics: Metrics, action: str, ceremony: str
) -> None:
    metrics.decided(AuditEvent(action, "passkey", SUBJECT, "denied", "wrong_origin"))
    labels = {"ceremony": ceremony, "outcome": "denied", "reason": "wrong_origin"}
    assert value(metrics, "verifykit_passkey_ceremonies_total", **labels) == 1
