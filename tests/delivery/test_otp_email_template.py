"""render_otp_email: a proper MIME message in the person's language."""

from __future__ import annotations

import datetime as dt
import email.utils
import zoneinfo

import pytest

from verifykit import InvalidInput
from verifykit.delivery import SUPPORTED_LOCALES, render_otp_email
from verifykit.testing import code_in

CODE = "845201"


def render(**overrides):
    settings = {
        "to": "alice@example.com",
        "sender": "no-reply@example.com",
        "code": CODE,
        "ttl_seconds": 600,
        "locale": "en",
        "service_name": "verifykit",
    }
    settings.update(overrides)
    return render_otp_email(**settings)


def bodies(message) -> tuple[str, str]:
    text, html = message.iter_parts()
    return text.get_content(), html.get_content()


def test_supported_locales_are_english_and_bahasa_indonesia():
    assert set(SUPPORTED_LOCALES) == {"en", "id"}


def test_message_is_multipart_alternative_text_then_html_both_utf8():
    message = render()
    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert all(part.get_content_charset() == "utf-8" for part in parts)


def test_bodies_are_seven_bit_clean_quoted_printable():
    message = render(service_name="Layanan Imigrasi — M-Paspor")
    for part in message.iter_parts():
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert message.as_bytes().isascii()


@pytest.mark.parametrize(
    ("locale", "subject", "validity"),
    [
        ("en", "Your verifykit verification code", "This code is valid for 10 minutes."),
        ("id", "Kode verifikasi verifykit Anda", "Kode ini berlaku selama 10 menit."),
    ],
)
def test_each_locale_states_the_code_and_how_long_it_is_valid(locale, subject, validity):
    message = render(locale=locale)
    assert message["Subject"] == subject
    assert message["Content-Language"] == locale
    for body in bodies(message):
        assert CODE in body
        assert validity in body


def test_code_is_not_in_the_subject():
    assert CODE not in render()["Subject"]


@pytest.mark.parametrize("tag", ["id-ID", "ID", "id_ID", " id "])
def test_regional_language_tags_choose_the_language(tag):
    assert render(locale=tag)["Content-Language"] == "id"


@pytest.mark.parametrize("locale", ["fr", "", "english", "xx-EN"])
def test_unknown_locale_is_invalid_input(locale):
    with pytest.raises(InvalidInput) as caught:
        render(locale=locale)
    assert caught.value.field == "locale"


@pytest.mark.parametrize(
    ("ttl_seconds", "locale", "phrase"),
    [
        (600, "en", "10 minutes"),
        (60, "en", "1 minute."),
        (119, "en", "1 minute."),  # rounded down: never promise more time than there is
        (300.5, "en", "5 minutes"),
        (45, "en", "45 seconds"),
        (1, "en", "1 second."),
        (0.2, "en", "1 second."),
        (900, "id", "15 menit"),
        (30, "id", "30 detik"),
    ],
)
def test_validity_is_stated_in_whole_minutes_or_seconds(ttl_seconds, locale, phrase):
    text, html = bodies(render(ttl_seconds=ttl_seconds, locale=locale))
    assert phrase in text
    assert phrase in html


def test_html_escapes_the_service_name_and_text_keeps_it_verbatim():
    text, html = bodies(render(service_name='Tom & Jerry <b>"Pay"</b>'))
    assert "Tom &amp; Jerry &lt;b&gt;&quot;Pay&quot;&lt;/b&gt;" in html
    assert "<b>" not in html
    assert 'Tom & Jerry <b>"Pay"</b>' in text


def test_non_ascii_service_name_survives_in_subject_and_bodies():
    service = "Layanan Imigrasi — M-Paspor"
    message = render(service_name=service, locale="id")
    assert message["Subject"] == f"Kode verifikasi {service} Anda"
    assert all(service in body for body in bodies(message))


def test_headers_from_to_date_message_id_and_auto_submitted():
    message = render(to="Alice@Bücher.Example", sender="no-reply@imigrasi.example", service_name="M-Paspor")
    assert message["To"] == "Alice@xn--bcher-kva.example"
    assert message["From"].addresses[0].display_name == "M-Paspor"
    assert message["From"].addresses[0].addr_spec == "no-reply@imigrasi.example"
    assert email.utils.parsedate_to_datetime(message["Date"]).tzinfo is not None
    assert message["Message-ID"].endswith("@imigrasi.example>")
    assert message["Auto-Submitted"] == "auto-generated"


def test_internationalized_recipient_gets_utf8_headers():
    message = render(to="josé@bücher.example")
    assert "To: josé@xn--bcher-kva.example".encode() in message.as_bytes()


def test_sender_display_name_is_kept():
    message = render(sender='"Imigrasi Indonesia" <no-reply@imigrasi.example>')
    assert message["From"].addresses[0].display_name == "Imigrasi Indonesia"


def test_message_ids_are_unique():
    assert render()["Message-ID"] != render()["Message-ID"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"code": "12 34"}, "code"),
        ({"code": ""}, "code"),
        ({"code": "1234\r\n"}, "code"),
        ({"code": 123456}, "code"),
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"ttl_seconds": -5}, "ttl_seconds"),
        ({"ttl_seconds": float("inf")}, "ttl_seconds"),
        ({"ttl_seconds": float("nan")}, "ttl_seconds"),
        ({"ttl_seconds": "600"}, "ttl_seconds"),
        ({"service_name": ""}, "service_name"),
        ({"service_name": "Bank\r\nBcc: eve@evil.example"}, "service_name"),
        ({"service_name": "x" * 101}, "service_name"),
        ({"sender": "no-reply@example.com\r\nBcc: eve@evil.example"}, "sender"),
        ({"sender": "not an address"}, "sender"),
        ({"sender": 'Eve "x" <no-reply@example.com>'}, "sender"),
        ({"to": "alice@example.com\r\nBcc: eve@evil.example"}, "email"),
        ({"to": "alice@example.com, eve@evil.example"}, "email"),
    ],
    ids=repr,
)
def test_bad_input_is_invalid_input_naming_the_field(overrides, field):
    with pytest.raises(InvalidInput) as caught:
        render(**overrides)
    assert caught.value.field == field


def test_error_about_a_bad_code_does_not_repeat_it():
    with pytest.raises(InvalidInput) as caught:
        render(code="84520!")
    assert "84520" not in str(caught.value)


# -- which send, and when it was requested: a person with two messages can tell the newest ---------

REQUESTED = dt.datetime(2025, 3, 4, 10, 42, 7, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("locale", "zone", "marker", "sentence"),
    [
        ("en", dt.UTC, "(code 2 of 2, requested 10:42 UTC)", "This is code 2 of 2, requested 10:42 UTC."),
        (
            "id",
            zoneinfo.ZoneInfo("Asia/Jakarta"),
            "(kode 2 dari 2, diminta 17.42 WIB)",
            "Ini kode 2 dari 2, diminta 17.42 WIB.",
        ),
    ],
)
def test_subject_and_body_name_the_send_and_when_it_was_requested(locale, zone, marker, sentence):
    message = render(locale=locale, send=2, sends=2, requested_at=REQUESTED.astimezone(zone))
    text, html_body = bodies(message)
    assert message["Subject"].endswith(marker)
    assert sentence in text
    assert sentence in html_body


def test_the_send_number_leaves_the_code_alone_on_its_line():
    message = render(send=3, sends=3, requested_at=REQUESTED)
    assert code_in(message) == CODE
    assert CODE not in message["Subject"]


def test_without_a_send_number_the_message_names_none():
    message = render()
    assert message["Subject"] == "Your verifykit verification code"
    assert "requested" not in bodies(message)[0]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"send": 0, "sends": 1, "requested_at": REQUESTED}, "send"),
        ({"send": 3, "sends": 2, "requested_at": REQUESTED}, "send"),
        ({"send": 1, "sends": None, "requested_at": REQUESTED}, "sends"),
        ({"send": 1, "sends": 1, "requested_at": REQUESTED.replace(tzinfo=None)}, "requested_at"),
        ({"sends": 1}, "send"),
    ],
)
def test_a_bad_send_number_or_time_is_invalid_input(overrides, field):
    with pytest.raises(InvalidInput) as caught:
        render(**overrides)
    assert caught.value.field == field
