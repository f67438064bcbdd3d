"""normalize_email and mask_email: what a destination may be, and how it is shown."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifykit import InvalidInput
from verifykit.delivery import mask_email, normalize_email


@pytest.mark.parametrize(
    ("given_address", "expected"),
    [
        ("alice@example.com", "alice@example.com"),
        ("  alice@example.com\t\n", "alice@example.com"),
        ("Alice.Smith@EXAMPLE.COM", "Alice.Smith@example.com"),
        ("user+otp@mail.example.co.id", "user+otp@mail.example.co.id"),
        ("o'brien!#$%&*=?^_`{|}~-/@example.org", "o'brien!#$%&*=?^_`{|}~-/@example.org"),
        ("alice@bücher.de", "alice@xn--bcher-kva.de"),
        ("alice@BÜCHER.DE", "alice@xn--bcher-kva.de"),
        ("alice@xn--bcher-kva.de", "alice@xn--bcher-kva.de"),
        ("pengguna@例え.テスト", "pengguna@xn--r8jz45g.xn--zckzah"),
        ("alice@example\u3002com", "alice@example.com"),  # ideographic full stop
        ("josé@example.com", "josé@example.com"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
    ],
)
def test_valid_addresses_are_normalized(given_address, expected):
    assert normalize_email(given_address) == expected


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "   ",
        "alice.example.com",
        "alice@@example.com",
        "alice@bob@example.com",
        "@example.com",
        "alice@",
        "alice@localhost",
        "alice@example.com\r\nBcc: eve@evil.example",
        "alice\n@example.com",
        "alice@exam\rple.com",
        "ali ce@example.com",
        "alice@exa mple.com",
        "alice\x00@example.com",
        "alice@example.com\u200b",
        "alice@exa\u202emple.com",
        "<alice@example.com>",
        "alice,eve@example.com",
        '"alice"@example.com',
        "alice;eve@example.com",
        "alice(comment)@example.com",
        ".alice@example.com",
        "alice.@example.com",
        "al..ice@example.com",
        "a" * 65 + "@example.com",
        "é" * 33 + "@example.com",  # 33 characters but 66 bytes
        "alice@" + "b" * 64 + ".com",
        "alice@" + ("b" * 60 + ".") * 5 + "com",
        "alice@example..com",
        "alice@.example.com",
        "alice@example.com.",
        "alice@-example.com",
        "alice@example-.com",
        "alice@exa_mple.com",
        "alice@1.2.3.4",
        "alice@[127.0.0.1]",
        "alice@xn--zz.com",
        "alice@example.c/m",
    ],
    ids=repr,
)
def test_invalid_addresses_raise_invalid_input_for_the_email_field(bad):
    with pytest.raises(InvalidInput) as caught:
        normalize_email(bad)
    assert caught.value.field == "email"


def test_too_long_address_is_refused():
    local = "a" * 64
    domain = ".".join(["b" * 63] * 3) + ".com"  # 195 characters, every label valid
    assert len(f"{local}@{domain}") > 254
    with pytest.raises(InvalidInput, match="longer than 254"):
        normalize_email(f"{local}@{domain}")


def test_non_string_is_invalid_input():
    with pytest.raises(InvalidInput):
        normalize_email(None)  # type: ignore[arg-type]


def test_error_message_does_not_repeat_the_address():
    with pytest.raises(InvalidInput) as caught:
        normalize_email("secret.person@exa mple.com")
    assert "secret.person" not in str(caught.value)


# Property tests: whatever comes in, nothing dangerous comes out, and normalizing twice changes nothing.


@given(st.text(max_size=300))
def test_any_text_is_refused_or_normalized_without_line_breaks_and_idempotently(text):
    try:
        normalized = normalize_email(text)
    except InvalidInput:
        return
    assert "\r" not in normalized
    assert "\n" not in normalized
    assert normalize_email(normalized) == normalized


@given(
    st.emails(),
    st.sampled_from(["\r", "\n", "\r\n", " ", "\t", "\x00", "\x7f"]),
    st.integers(min_value=1),
)
def test_a_line_break_or_control_character_anywhere_inside_is_refused(address, injected, where):
    position = 1 + where % (len(address) - 1)
    with pytest.raises(InvalidInput):
        normalize_email(address[:position] + injected + address[position:])


@given(st.emails())
def test_every_plain_address_is_accepted_lowercased_and_idempotent(address):
    normalized = normalize_email(address)
    local, domain = address.split("@")
    assert normalized == f"{local}@{domain.lower()}"
    assert normalize_email(normalized) == normalized


# mask_email


@pytest.mark.parametrize(
    ("address", "masked"),
    [
        ("alice@example.com", "a***@example.com"),
        ("a@example.com", "a***@example.com"),
        ("Alice@xn--bcher-kva.de", "A***@xn--bcher-kva.de"),
        ("@example.com", "****@example.com"),
        ("not an address", "***"),
        ("alice@exa\r\nmple.com", "a***@***"),
        ("\nalice@example.com", "****@example.com"),
    ],
)
def test_mask_email_hides_the_local_part_and_anything_unsafe(address, masked):
    assert mask_email(address) == masked


@given(st.text(max_size=300))
def test_mask_email_never_returns_whitespace_or_control_characters(text):
    masked = mask_email(text)
    assert not any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in masked)
