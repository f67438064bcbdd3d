"""Email OTP end to end through a real SMTP server on loopback: the step where people got stuck."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from flavours import Flavour
from smtp_servers import Recorder
from verifykit import Keyring, Way
from verifykit.aio import AsyncSMTPMailer
from verifykit.delivery import SMTPMailer
from verifykit.otp import OTPSettings
from verifykit.testing import code_in


@pytest.fixture
def smtp_otp(otp_for, store, flavour: Flavour) -> Callable[..., Any]:
    """``smtp_otp(port, **mailer)``: an EmailOTP of each flavour, sending with that flavour's SMTP mailer."""

    def make(port: int, **mailer: Any) -> Any:
        smtp_class = AsyncSMTPMailer if flavour.is_async else SMTPMailer
        smtp = smtp_class("127.0.0.1", port, security="none", **mailer)
        settings = OTPSettings(resend_cooldown=0, resend_cooldown_max=0)
        return otp_for(store=store, keyring=Keyring.generate(), mailer=smtp, settings=settings, audit=None)

    return make


def test_the_code_received_by_the_mail_server_approves(smtp_otp, smtp_server) -> None:
    server = smtp_server()
    otp = smtp_otp(server.port, timeout=5)
    ch = otp.start("user-1", "ana@example.co.id", locale="id")
    assert ch.delivery == "sent"
    (received,) = server.handler.received
    assert received.rcpt_tos == ["ana@example.co.id"]
    assert otp.check(ch.id, code_in(received.message())).approved


def test_a_mail_server_that_is_down_leaves_a_failed_challenge_with_ways_in(smtp_otp, unused_port) -> None:
    otp = smtp_otp(unused_port, timeout=0.5, retries=1, backoff=0.05)
    ch = otp.start("user-1", "ana@example.com")
    assert ch.delivery == "failed"
    assert ch.delivery_reason.startswith("temporary")
    assert ch.ways_in[:1] == (Way.EMAIL_CODE,) and Way.COUNTER_VOUCHER in ch.ways_in
    assert otp.status(ch.id).delivery == "failed"


def test_a_mail_server_slower_than_the_timeout_is_given_up_on_by_the_timeout(smtp_otp, smtp_server) -> None:
    server = smtp_server(Recorder(data_delay=600.0))  # far later than the mailer ever waits
    otp = smtp_otp(server.port, timeout=0.5, retries=0)
    ch = otp.start("user-1", "ana@example.com")
    assert ch.delivery == "failed"
    assert ch.delivery_reason.startswith("temporary")
    assert server.handler.rcpt_commands == 1 and server.handler.received == []  # it never answered DATA


def test_a_temporary_refusal_then_success_is_delivered_after_a_retry(smtp_otp, smtp_server) -> None:
    server = smtp_server(Recorder(rcpt_replies=["451 4.3.0 try again later"]))
    otp = smtp_otp(server.port, timeout=5, retries=2, backoff=0.05)
    ch = otp.start("user-1", "ana@example.com")
    assert ch.delivery == "sent"
    assert otp.check(ch.id, code_in(server.handler.received[-1].message())).approved


def test_a_resend_delivers_once_the_mail_server_is_back(smtp_otp, smtp_server) -> None:
    server = smtp_server(Recorder(rcpt_replies=["451 4.3.0 down for maintenance"]))
    otp = smtp_otp(server.port, timeout=5, retries=0)
    ch = otp.start("user-1", "ana@example.com")
    assert ch.delivery == "failed"
    again = otp.resend(ch.id)
    assert again.delivery == "sent"
    assert otp.check(ch.id, code_in(server.handler.received[-1].message())).approved


@pytest.mark.parametrize("locale, word", [("en", "code"), ("id", "kode")])
def test_the_received_message_is_mime_with_text_and_html_in_the_asked_language(
    smtp_otp, smtp_server, locale: str, word: str
) -> None:
    server = smtp_server()
    smtp_otp(server.port, timeout=5).start("user-1", "ana@example.com", locale=locale)
    message = server.handler.received[0].message()
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    code = code_in(message)
    assert code in text and code in html
    assert word in text.lower()
