"""The SMTP conversation both mailers speak, driven by hand: no server, no socket, no loop.

Each test answers the steps the conversation asks for with scripted replies and holds it to
what it says, in which order, and how it reads each refusal.
"""

from __future__ import annotations

from collections.abc import Iterable
from email.message import EmailMessage

import pytest

from verifykit import DeliveryError, InvalidInput
from verifykit.delivery import render_otp_email
from verifykit.delivery._conversation import (
    Command,
    Conversation,
    Envelope,
    Goodbye,
    Open,
    Reply,
    ReplyError,
    ReplyReader,
    StartTLS,
    Step,
    conversation,
)

WHERE = "SMTP server mail.test:587"
EHLO_TLS = Reply(250, ("mail.test", "STARTTLS", "8BITMIME", "SMTPUTF8", "SIZE 1000000"))
EHLO_AUTH = Reply(250, ("mail.test", "AUTH PLAIN LOGIN", "8BITMIME", "SMTPUTF8"))
EHLO_PLAIN = Reply(250, ("mail.test", "8BITMIME", "SMTPUTF8"))
OK = Reply(250, ("OK",))


def message(to: str = "alice@example.com", **headers: str):
    email = render_otp_email(
        to=to, sender="no-reply@example.net", code="845201", ttl_seconds=600, service_name="Example"
    )
    for name, value in headers.items():
        email[name] = value
    return email


def talk(
    security: str = "none", login: tuple[str, str] | None = None, envelope: Envelope | None = None
) -> Conversation:
    return conversation(
        envelope if envelope is not None else Envelope.of(message()),
        security=security,  # type: ignore[arg-type]
        local_hostname="client.test",
        login=login,
        where=WHERE,
    )


def replay(flow: Conversation, replies: Iterable[Reply], steps: list[Step] | None = None) -> list[Step]:
    """Answer each Open and Command with the next reply (StartTLS and Goodbye with None); the
    steps asked for are also appended to ``steps``."""
    pending = list(replies)
    steps = [] if steps is None else steps
    answer: Reply | None = None
    try:
        while True:
            step = flow.send(answer)
            steps.append(step)
            answer = None if isinstance(step, StartTLS | Goodbye) else pending.pop(0)
    except StopIteration:
        assert pending == [], "the conversation ended before every reply was read"
        return steps


def said(steps: list[Step]) -> list[str]:
    """The command lines sent, the message itself shown as <message>."""
    out = []
    for step in steps:
        if isinstance(step, Command):
            out.append("<message>" if step.data.endswith(b"\r\n.\r\n") else step.data.decode().strip())
        else:
            out.append(type(step).__name__ + ("(tls)" if isinstance(step, Open) and step.tls else ""))
    return out


def delivered(*before_mail: Reply) -> list[Reply]:
    return [Reply(220, ("mail.test ESMTP",)), *before_mail, OK, OK, Reply(354, ("go",)), OK]


# --- what is said, in which order ------------------------------------------------------------


def test_starttls_then_login_then_the_envelope_then_goodbye() -> None:
    steps = replay(
        talk("starttls", login=("mailer", "s3cret")),
        delivered(EHLO_TLS, Reply(220, ("go ahead",)), EHLO_AUTH, Reply(235, ("ok",))),
    )
    assert Envelope.of(message()).data.isascii()  # so no BODY=8BITMIME to ask for
    assert said(steps) == [
        "Open",
        "EHLO client.test",
        "STARTTLS",
        "StartTLS",
        "EHLO client.test",
        "AUTH PLAIN AG1haWxlcgBzM2NyZXQ=",  # \0mailer\0s3cret
        "MAIL FROM:<no-reply@example.net>",  # the EHLO after TLS names no SIZE
        "RCPT TO:<alice@example.com>",
        "DATA",
        "<message>",
        "Goodbye",
    ]


def test_implicit_tls_opens_with_tls_and_says_no_starttls() -> None:
    steps = replay(talk("tls"), delivered(EHLO_PLAIN))
    assert said(steps)[:2] == ["Open(tls)", "EHLO client.test"]
    assert "STARTTLS" not in said(steps)


def test_mail_from_names_the_size_where_the_server_takes_it() -> None:
    envelope = Envelope.of(message())
    steps = replay(talk("starttls", envelope=envelope), delivered(EHLO_TLS, Reply(220, ("go",)), EHLO_TLS))
    assert f"MAIL FROM:<no-reply@example.net> SIZE={len(envelope.data)}" in said(steps)


def test_a_refused_ehlo_falls_back_to_helo_before_tls() -> None:
    steps = replay(talk(), delivered(Reply(502, ("no EHLO",)), OK))
    assert said(steps)[1:3] == ["EHLO client.test", "HELO client.test"]


def test_bcc_recipients_get_the_mail_but_never_see_the_header() -> None:
    envelope = Envelope.of(message(Bcc="carol@example.org"))
    steps = replay(talk(envelope=envelope), [*delivered(EHLO_PLAIN)[:-3], OK, OK, Reply(354, ("go",)), OK])
    assert "RCPT TO:<carol@example.org>" in said(steps)
    assert b"carol" not in envelope.data


def test_an_international_address_asks_for_smtputf8_and_sends_utf8_headers() -> None:
    envelope = Envelope.of(message(to="josé@xn--bcher-kva.example"))
    steps = replay(talk(envelope=envelope), delivered(EHLO_PLAIN))
    assert "MAIL FROM:<no-reply@example.net> SMTPUTF8 BODY=8BITMIME" in said(steps)
    assert "To: josé@xn--bcher-kva.example".encode() in envelope.data


def test_the_message_is_dot_stuffed_with_crlf_line_ends() -> None:
    email = EmailMessage()
    email["From"], email["To"] = "no-reply@example.net", "alice@example.com"
    email.set_content("first\n.hidden line\nlast")
    body = Envelope.of(email).body()
    assert b"\r\n..hidden line\r\n" in body
    assert body.endswith(b"\r\n.\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")


def test_a_command_never_shows_its_arguments_or_a_password() -> None:
    steps = replay(
        talk("starttls", login=("mailer", "s3cret")),
        delivered(EHLO_TLS, Reply(220, ("go",)), EHLO_AUTH, Reply(235, ("ok",))),
    )
    shown = " ".join(map(repr, steps))
    assert "s3cret" not in shown and "AG1haWxlcgBzM2NyZXQ" not in shown
    assert "alice" not in shown


# --- refusals --------------------------------------------------------------------------------


def refused(flow: Conversation, replies: Iterable[Reply]) -> tuple[DeliveryError, list[Step]]:
    steps: list[Step] = []
    with pytest.raises(DeliveryError) as caught:
        replay(flow, replies, steps)
    return caught.value, steps


def test_a_server_without_starttls_is_refused_before_any_password_is_sent() -> None:
    error, steps = refused(talk("starttls", login=("mailer", "s3cret")), [Reply(220, ("hi",)), EHLO_PLAIN])
    assert error.temporary is False
    assert error.message == f"{WHERE} does not offer STARTTLS"
    assert said(steps) == ["Open", "EHLO client.test"]


@pytest.mark.parametrize(("code", "temporary"), [(451, True), (421, True), (550, False), (553, False)])
def test_a_refused_recipient_is_temporary_for_4xx_and_permanent_for_5xx(code: int, temporary: bool) -> None:
    rcpt = Reply(
        code, ("<alice@example.com>: not now" if temporary else "<alice@example.com>: no such user",)
    )
    error, steps = refused(talk(), [Reply(220, ("hi",)), EHLO_PLAIN, OK, rcpt])
    assert error.temporary is temporary
    assert error.message.startswith(f"{WHERE} refused the recipient a***@example.com: {code} ")
    assert "alice@" not in error.message  # the echoed address is masked too
    assert "DATA" not in said(steps)


def test_a_wrong_password_is_permanent_after_every_offered_login_was_tried() -> None:
    error, steps = refused(
        talk("tls", login=("mailer", "wrong-pw")),
        [
            Reply(220, ("hi",)),
            EHLO_AUTH,
            Reply(535, ("bad",)),
            Reply(334, ("UGFzc3dvcmQ6",)),
            Reply(535, ("bad",)),
        ],
    )
    assert error.temporary is False
    assert error.message == f"{WHERE} rejected the login: 535 bad"
    assert [s.data.split()[1] for s in steps if isinstance(s, Command) and s.data.startswith(b"AUTH")] == [
        b"PLAIN",
        b"LOGIN",
    ]


def test_a_server_that_offers_no_login_cannot_take_a_login_mailer() -> None:
    error, _ = refused(talk("tls", login=("mailer", "s3cret")), [Reply(220, ("hi",)), EHLO_PLAIN])
    assert error.temporary is False
    assert "cannot take this message" in error.message


def test_an_international_address_needs_smtputf8() -> None:
    envelope = Envelope.of(message(to="josé@xn--bcher-kva.example"))
    error, _ = refused(talk(envelope=envelope), [Reply(220, ("hi",)), Reply(250, ("mail.test",))])
    assert error.temporary is False
    assert "SMTPUTF8" in error.message


@pytest.mark.parametrize(("code", "temporary"), [(421, True), (554, False)])
def test_a_greeting_other_than_220_is_read_by_its_code(code: int, temporary: bool) -> None:
    error, steps = refused(talk(), [Reply(code, ("go away",))])
    assert (error.temporary, error.message) == (temporary, f"{WHERE} answered {code} go away")
    assert said(steps) == ["Open"]


def test_a_message_refused_after_data_is_read_by_its_code() -> None:
    error, _ = refused(talk(), [*delivered(EHLO_PLAIN)[:-1], Reply(552, ("too big",))])
    assert (error.temporary, error.message) == (False, f"{WHERE} answered 552 too big")


def test_some_recipients_refused_is_permanent_once_the_rest_took_the_message() -> None:
    envelope = Envelope.of(message(Cc="bob@example.org"))
    error, steps = refused(
        talk(envelope=envelope),
        [Reply(220, ("hi",)), EHLO_PLAIN, OK, OK, Reply(550, ("no",)), Reply(354, ("go",)), OK],
    )
    assert error.temporary is False
    assert error.message == f"{WHERE} refused some recipients: b***@example.org (550)"
    assert "<message>" in said(steps)


def test_a_message_without_an_address_is_refused_before_anything_is_said() -> None:
    email = message()
    del email["To"]
    email["To"] = "undisclosed-recipients:;"
    with pytest.raises(InvalidInput):
        Envelope.of(email)


# --- reading replies -------------------------------------------------------------------------


def test_a_multiline_reply_fed_a_byte_at_a_time_comes_out_whole() -> None:
    reader = ReplyReader()
    replies = []
    for byte in b"250-mail.test greets you\r\n250-STARTTLS\r\n250 SIZE 10\r\n220 ready\r\n":
        reader.feed(bytes([byte]))
        while (reply := reader.next_reply()) is not None:
            replies.append(reply)
    assert replies == [Reply(250, ("mail.test greets you", "STARTTLS", "SIZE 10")), Reply(220, ("ready",))]


@pytest.mark.parametrize(
    ("sent", "temporary"),
    [(b"HTTP/1.1 400 Bad Request\r\n", True), (b"250-" + b"x" * 9000, False), (b"250-x\r\n" * 600, False)],
    ids=["not smtp", "a line too long", "too many lines"],
)
def test_what_is_not_a_bounded_smtp_reply_is_an_error(sent: bytes, temporary: bool) -> None:
    reader = ReplyReader()
    reader.feed(sent)
    with pytest.raises(ReplyError) as caught:
        reader.next_reply()
    assert caught.value.temporary is temporary


def test_bytes_sent_ahead_of_the_tls_handshake_are_refused() -> None:
    reader = ReplyReader()
    reader.feed(b"220 go ahead\r\n250 injected before TLS\r\n")
    assert reader.next_reply() == Reply(220, ("go ahead",))
    with pytest.raises(ReplyError, match="ahead of the TLS handshake"):
        reader.before_tls()
