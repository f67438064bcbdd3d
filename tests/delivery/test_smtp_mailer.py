"""SMTPMailer against real SMTP servers on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import suppress

import pytest

from verifykit import ConfigurationError, DeliveryError
from verifykit.aio import AsyncSMTPMailer
from verifykit.delivery import SMTPMailer, render_otp_email

CODE = "845201"
SERVICE = "Layanan Imigrasi — M-Paspor"


def otp_message(to: str = "alice@example.com", locale: str = "en"):
    return render_otp_email(
        to=to,
        sender="no-reply@imigrasi.example",
        code=CODE,
        ttl_seconds=600,
        locale=locale,
        service_name=SERVICE,
    )


class BlockingAsyncMailer:
    """AsyncSMTPMailer behind a blocking ``send``, so one suite holds both mailers to one behaviour."""

    def __init__(self, *args, **kwargs) -> None:
        self.aio = AsyncSMTPMailer(*args, **kwargs)

    def send(self, message) -> None:
        asyncio.run(self.aio.send(message))

    def __getattr__(self, name: str):
        return getattr(self.aio, name)

    def __repr__(self) -> str:
        return repr(self.aio)


@pytest.fixture(params=["sync", "async"])
def smtp_mailer(request):
    """The mailer class of each flavour: SMTPMailer, or AsyncSMTPMailer driven to completion."""
    return SMTPMailer if request.param == "sync" else BlockingAsyncMailer


def plain_mailer(smtp_mailer, port: int, **settings):
    settings.setdefault("timeout", 5.0)
    settings.setdefault("backoff", 0.01)
    return smtp_mailer("127.0.0.1", port, security="none", local_hostname="client.test", **settings)


def assert_no_secret(error: DeliveryError) -> None:
    assert CODE not in str(error)
    assert "alice@example.com" not in str(error)


# --- what arrives ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("locale", "wording"),
    [("en", "This code is valid for 10 minutes."), ("id", "Kode ini berlaku selama 10 menit.")],
)
def test_received_message_is_multipart_alternative_with_code_and_locale_wording(
    smtp_mailer, smtp_server, locale, wording
):
    server = smtp_server()
    plain_mailer(smtp_mailer, server.port).send(otp_message(locale=locale))

    (received,) = server.handler.received
    message = received.message()
    assert message.get_content_type() == "multipart/alternative"
    text, html = message.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    for part in (text, html):
        assert part.get_content_charset() == "utf-8"
        assert CODE in part.get_content()
        assert wording in part.get_content()
        assert SERVICE in part.get_content()


def test_envelope_goes_to_the_normalized_idna_recipient(smtp_mailer, smtp_server):
    server = smtp_server()
    plain_mailer(smtp_mailer, server.port).send(otp_message(to="Alice@Bücher.Example"))

    (received,) = server.handler.received
    assert received.rcpt_tos == ["Alice@xn--bcher-kva.example"]
    assert received.mail_from == "no-reply@imigrasi.example"


# --- failures and retries ------------------------------------------------------------------


def ended_by_a_timeout(error: BaseException) -> bool:
    """Whether the mailer's own time budget ended the last attempt: it says so, or a socket timeout
    is in the error's chain (smtplib reports a reply that timed out as a closed connection)."""
    if isinstance(error, DeliveryError) and re.search(r"did not (finish|answer) within", error.message):
        return True
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def test_server_down_fails_as_temporary_after_its_retries(smtp_mailer, unused_port):
    mailer = plain_mailer(smtp_mailer, unused_port, retries=2)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())
    assert caught.value.temporary
    assert "refused the connection (gave up after 3 attempts)" in caught.value.message
    assert_no_secret(caught.value)


def test_server_slower_than_the_timeout_is_given_up_on_by_the_timeout(smtp_mailer, smtp_server):
    server = smtp_server()
    server.handler.data_delay = 600.0  # it would answer DATA, far later than any attempt waits
    mailer = plain_mailer(smtp_mailer, server.port, timeout=0.5, retries=1)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())
    assert caught.value.temporary
    assert ended_by_a_timeout(caught.value), caught.value.message
    assert server.handler.received == []  # the mailer stopped waiting; the server never answered
    assert_no_secret(caught.value)


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """Accepts TCP connections (the kernel does) but never says a word: no SMTP greeting."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_server_that_never_greets_is_given_up_on_by_the_timeout(smtp_mailer, silent_listener):
    mailer = plain_mailer(smtp_mailer, silent_listener, timeout=0.5, retries=1)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())
    assert caught.value.temporary
    assert ended_by_a_timeout(caught.value), caught.value.message


@pytest.fixture
def trickling_listener() -> Iterator[int]:
    """Greets one byte every 50 ms, never finishing the line, for 10 s; then hangs up."""
    done = threading.Event()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)

        def trickle() -> None:
            connection, _ = sock.accept()
            with connection:
                connection.sendall(b"220-")
                for _ in range(200):
                    if done.wait(0.05):
                        return
                    with suppress(OSError):
                        connection.sendall(b"x")

        server = threading.Thread(target=trickle, daemon=True)
        server.start()
        yield sock.getsockname()[1]
        done.set()
        server.join(timeout=15)


def test_a_server_trickling_bytes_cannot_stretch_an_attempt_past_its_timeout(smtp_mailer, trickling_listener):
    mailer = plain_mailer(smtp_mailer, trickling_listener, timeout=0.5, retries=0)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())
    assert caught.value.temporary
    # Not "closed the connection": that would mean it waited for the server to give up first.
    assert "did not finish within 0.5 s" in caught.value.message


def test_temporary_4xx_is_retried_and_then_delivered(smtp_mailer, smtp_server):
    server = smtp_server()
    server.handler.rcpt_replies = ["451 4.3.0 Try again later"]
    plain_mailer(smtp_mailer, server.port, retries=2).send(otp_message())

    assert server.handler.rcpt_commands == 2
    assert len(server.handler.received) == 1


def test_temporary_failures_beyond_the_retry_budget_raise_temporary(smtp_mailer, smtp_server):
    server = smtp_server()
    server.handler.rcpt_replies = ["451 4.3.0 Try again later"] * 3
    with pytest.raises(DeliveryError) as caught:
        plain_mailer(smtp_mailer, server.port, retries=1).send(otp_message())

    assert caught.value.temporary
    assert server.handler.rcpt_commands == 2
    assert "451" in caught.value.message
    assert "2 attempts" in caught.value.message


def test_permanent_5xx_is_not_retried(smtp_mailer, smtp_server):
    server = smtp_server()
    server.handler.rcpt_replies = ["550 5.1.1 <alice@example.com>: Recipient address rejected"] * 3
    with pytest.raises(DeliveryError) as caught:
        plain_mailer(smtp_mailer, server.port, retries=2).send(otp_message())

    assert caught.value.temporary is False
    assert server.handler.rcpt_commands == 1
    assert server.handler.received == []
    assert "550" in caught.value.message


def test_error_masks_an_address_the_server_echoes(smtp_mailer, smtp_server):
    server = smtp_server()
    server.handler.rcpt_replies = ["550 5.1.1 <alice@example.com>: Recipient address rejected"]
    with pytest.raises(DeliveryError) as caught:
        plain_mailer(smtp_mailer, server.port, retries=0).send(otp_message())

    assert "a***@example.com" in caught.value.message
    assert_no_secret(caught.value)


# --- TLS and login -------------------------------------------------------------------------


def test_starttls_with_a_trusted_self_signed_certificate_delivers_over_tls(smtp_mailer, smtp_server, tls):
    server = smtp_server(tls_context=tls.server, require_starttls=True)
    smtp_mailer("127.0.0.1", server.port, ssl_context=tls.client, timeout=5.0).send(otp_message())

    (received,) = server.handler.received
    assert received.over_tls


def test_starttls_refuses_an_untrusted_certificate_without_retrying(smtp_mailer, smtp_server, tls):
    server = smtp_server(tls_context=tls.server, require_starttls=True)
    mailer = smtp_mailer("127.0.0.1", server.port, timeout=5.0, retries=2, backoff=0.01)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())

    assert caught.value.temporary is False
    assert "certificate" in caught.value.message
    assert "1 attempt)" in caught.value.message
    assert server.handler.received == []


def test_starttls_never_falls_back_to_plain_text(smtp_mailer, smtp_server):
    server = smtp_server()  # offers no STARTTLS
    mailer = smtp_mailer("127.0.0.1", server.port, timeout=5.0)
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())

    assert caught.value.temporary is False
    assert "STARTTLS" in caught.value.message
    assert server.handler.received == []


def test_implicit_tls_delivers(smtp_mailer, smtp_server, tls):
    server = smtp_server(ssl_context=tls.server)
    smtp_mailer("127.0.0.1", server.port, security="tls", ssl_context=tls.client, timeout=5.0).send(
        otp_message()
    )

    assert len(server.handler.received) == 1


@pytest.fixture
def login_server(smtp_server, tls, authenticator):
    """Requires STARTTLS, then AUTH as mailer / s3cret, before it takes any mail."""
    return smtp_server(
        tls_context=tls.server,
        require_starttls=True,
        authenticator=authenticator("mailer", "s3cret"),
        auth_required=True,
    )


def test_login_over_starttls_delivers_as_an_authenticated_client(smtp_mailer, login_server, tls):
    server = login_server
    mailer = smtp_mailer(
        "127.0.0.1", server.port, username="mailer", password="s3cret", ssl_context=tls.client, timeout=5.0
    )
    mailer.send(otp_message())

    (received,) = server.handler.received
    assert received.authenticated


def test_wrong_password_is_a_permanent_failure_that_does_not_leak_the_password(
    smtp_mailer, login_server, tls
):
    server = login_server
    mailer = smtp_mailer(
        "127.0.0.1", server.port, username="mailer", password="wrong-pw", ssl_context=tls.client, timeout=5.0
    )
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())

    assert caught.value.temporary is False
    assert "login" in caught.value.message
    assert "wrong-pw" not in str(caught.value)
    assert server.handler.received == []


# --- settings ------------------------------------------------------------------------------


def test_deadline_is_every_attempt_plus_every_backoff(smtp_mailer):
    mailer = smtp_mailer(timeout=10.0, retries=2, backoff=0.5, local_hostname="client.test")
    assert mailer.deadline == 10.0 * 3 + 0.5 + 1.0


def test_repr_does_not_show_the_password(smtp_mailer):
    mailer = smtp_mailer(username="mailer", password="s3cret", local_hostname="client.test")
    assert "s3cret" not in repr(mailer)


@pytest.mark.parametrize(
    "settings",
    [
        {"host": ""},
        {"host": "mail.example.com\r\n"},
        {"port": 0},
        {"port": 70000},
        {"port": True},
        {"security": "ssl"},
        {"timeout": 0},
        {"timeout": -1.0},
        {"timeout": float("nan")},
        {"retries": -1},
        {"retries": 11},
        {"backoff": -0.1},
        {"username": "mailer"},
        {"password": "s3cret"},
        {"security": "none", "username": "mailer", "password": "s3cret"},
    ],
    ids=repr,
)
def test_bad_settings_are_configuration_errors(smtp_mailer, settings):
    with pytest.raises(ConfigurationError):
        smtp_mailer(local_hostname="client.test", **settings)


def test_ssl_context_with_security_none_is_a_configuration_error(smtp_mailer, tls):
    with pytest.raises(ConfigurationError):
        smtp_mailer(security="none", ssl_context=tls.client, local_hostname="client.test")


def test_internationalized_address_is_delivered_over_smtputf8(smtp_mailer, smtp_server):
    server = smtp_server()
    plain_mailer(smtp_mailer, server.port).send(otp_message(to="josé@bücher.example"))

    (received,) = server.handler.received
    assert received.rcpt_tos == ["josé@xn--bcher-kva.example"]
    assert received.message()["To"] == "josé@xn--bcher-kva.example"
