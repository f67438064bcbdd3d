"""Outbox, ConsoleMailer, FileMailer and FallbackMailer."""

from __future__ import annotations

import io
import stat
import threading
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser, Parser

import pytest

from verifykit import DeliveryError, InvalidInput
from verifykit.delivery import (
    ConsoleMailer,
    FallbackMailer,
    FileMailer,
    Mailer,
    Outbox,
    SMTPMailer,
    render_otp_email,
)

CODE = "845201"


def otp_message(to: str = "alice@example.com") -> EmailMessage:
    return render_otp_email(to=to, sender="no-reply@example.com", code=CODE, ttl_seconds=600)


class BrokenMailer:
    def __init__(self, *, temporary: bool) -> None:
        self.temporary = temporary
        self.calls = 0

    def send(self, message: EmailMessage) -> None:
        self.calls += 1
        raise DeliveryError("broken on purpose", temporary=self.temporary)


@pytest.mark.parametrize(
    "mailer",
    [Outbox(), ConsoleMailer(), FileMailer("unused"), SMTPMailer(local_hostname="client.test")],
    ids=lambda mailer: type(mailer).__name__,
)
def test_every_mailer_satisfies_the_protocol(mailer):
    assert isinstance(mailer, Mailer)


# --- Outbox --------------------------------------------------------------------------------


def test_outbox_keeps_messages_in_order():
    outbox = Outbox()
    first, second = otp_message("alice@example.com"), otp_message("bob@example.com")
    outbox.send(first)
    outbox.send(second)
    assert outbox.messages == [first, second]
    assert outbox.last() is second
    assert len(outbox) == 2


def test_outbox_messages_is_a_copy():
    outbox = Outbox()
    outbox.send(otp_message())
    outbox.messages.clear()
    assert len(outbox) == 1


def test_outbox_clear_forgets_messages():
    outbox = Outbox()
    outbox.send(otp_message())
    outbox.clear()
    assert outbox.messages == []


def test_outbox_last_on_an_empty_outbox_raises_lookup_error():
    with pytest.raises(LookupError):
        Outbox().last()


def test_outbox_fail_next_fails_that_many_sends_then_delivers():
    outbox = Outbox()
    outbox.fail_next(2, temporary=False)
    for _ in range(2):
        with pytest.raises(DeliveryError) as caught:
            outbox.send(otp_message())
        assert caught.value.temporary is False
    outbox.send(otp_message())
    assert len(outbox) == 1


def test_outbox_simulated_failure_is_temporary_by_default():
    outbox = Outbox()
    outbox.fail_next()
    with pytest.raises(DeliveryError) as caught:
        outbox.send(otp_message())
    assert caught.value.temporary


def test_outbox_fail_next_rejects_a_negative_count():
    with pytest.raises(InvalidInput):
        Outbox().fail_next(-1)


def test_outbox_keeps_every_message_sent_from_many_threads():
    outbox = Outbox()
    message = otp_message()

    def send_many() -> None:
        for _ in range(50):
            outbox.send(message)

    threads = [threading.Thread(target=send_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outbox) == 400


def test_outbox_refuses_a_message_without_recipient():
    message = EmailMessage()
    message["From"] = "no-reply@example.com"
    message.set_content("hello")
    with pytest.raises(InvalidInput):
        Outbox().send(message)


# --- ConsoleMailer -------------------------------------------------------------------------


def test_console_mailer_writes_a_parseable_message_between_markers():
    stream = io.StringIO()
    ConsoleMailer(stream).send(otp_message())

    lines = stream.getvalue().splitlines()
    assert lines[0] == ConsoleMailer.BEGIN
    assert lines[-1] == ConsoleMailer.END
    parsed = Parser(policy=policy.default).parsestr("\n".join(lines[1:-1]) + "\n")
    assert parsed["To"] == "alice@example.com"
    assert CODE in parsed.get_body(preferencelist=("plain",)).get_content()


def test_console_mailer_defaults_to_the_current_stdout(capsys):
    ConsoleMailer().send(otp_message())
    assert "To: alice@example.com" in capsys.readouterr().out


def test_console_mailer_on_a_closed_stream_raises_delivery_error():
    stream = io.StringIO()
    stream.close()
    with pytest.raises(DeliveryError):
        ConsoleMailer(stream).send(otp_message())


# --- FileMailer ----------------------------------------------------------------------------


def test_file_mailer_writes_one_parseable_eml_file_per_message(tmp_path):
    mailer = FileMailer(tmp_path / "outbox")
    mailer.send(otp_message("alice@example.com"))
    mailer.send(otp_message("bob@example.com"))

    files = sorted((tmp_path / "outbox").iterdir())
    assert [file.suffix for file in files] == [".eml", ".eml"]
    parsed = [BytesParser(policy=policy.default).parsebytes(file.read_bytes()) for file in files]
    assert sorted(message["To"] for message in parsed) == ["alice@example.com", "bob@example.com"]
    assert all(CODE in message.get_body(preferencelist=("plain",)).get_content() for message in parsed)


def test_file_mailer_files_are_readable_by_their_owner_only(tmp_path):
    FileMailer(tmp_path).send(otp_message())
    (file,) = tmp_path.glob("*.eml")
    assert stat.S_IMODE(file.stat().st_mode) == 0o600


def test_file_mailer_into_a_path_that_is_a_file_raises_delivery_error(tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    with pytest.raises(DeliveryError) as caught:
        FileMailer(blocker).send(otp_message())
    assert CODE not in str(caught.value)


# --- FallbackMailer ------------------------------------------------------------------------


def test_fallback_is_used_when_the_primary_smtp_server_is_down(unused_port):
    primary = SMTPMailer("127.0.0.1", unused_port, security="none", timeout=2.0, retries=0)
    fallback = Outbox()
    FallbackMailer(primary, fallback).send(otp_message())
    assert len(fallback) == 1


def test_fallback_is_not_used_when_the_primary_delivers():
    primary, fallback = Outbox(), Outbox()
    FallbackMailer(primary, fallback).send(otp_message())
    assert (len(primary), len(fallback)) == (1, 0)


def test_both_failing_raises_with_both_reasons():
    primary, fallback = BrokenMailer(temporary=False), Outbox()
    fallback.fail_next(1, temporary=False)
    with pytest.raises(DeliveryError) as caught:
        FallbackMailer(primary, fallback).send(otp_message())
    assert caught.value.temporary is False
    assert "primary: broken on purpose" in caught.value.message
    assert "fallback: outbox: simulated" in caught.value.message


@pytest.mark.parametrize(("primary_temporary", "fallback_temporary"), [(True, False), (False, True)])
def test_both_failing_is_temporary_if_either_failure_was(primary_temporary, fallback_temporary):
    mailer = FallbackMailer(
        BrokenMailer(temporary=primary_temporary), BrokenMailer(temporary=fallback_temporary)
    )
    with pytest.raises(DeliveryError) as caught:
        mailer.send(otp_message())
    assert caught.value.temporary


def test_fallback_mailer_refuses_something_that_is_not_a_mailer():
    with pytest.raises(InvalidInput):
        FallbackMailer(Outbox(), object())  # type: ignore[arg-type]
