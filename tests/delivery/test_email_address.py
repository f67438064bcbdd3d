"""normalize_email, canonical_mailbox and mask_email: what a destination may be, which mailbox it
reaches, and how it is shown."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from verifykit import ConfigurationError, InvalidInput
from verifykit.delivery import MailboxRules, ProviderRule, canonical_mailbox, mask_email, normalize_email


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


# canonical_mailbox: one name per mailbox, for limit keys (mail still goes to the address as given)


@pytest.mark.parametrize(
    ("spelling", "mailbox"),
    [
        ("alice@example.com", "alice@example.com"),
        ("ALICE@Example.COM", "alice@example.com"),
        ("alice+news@example.com", "alice@example.com"),
        ("alice+a+b@example.com", "alice@example.com"),
        ("alice.+news@example.com", "alice@example.com"),
        ("\uff41\uff4c\uff49\uff43\uff45@example.com", "alice@example.com"),  # full-width letters
        ("alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "alice@example.com"),
        ("\ufb01le@example.com", "file@example.com"),  # the "fi" ligature
        ("jose\u0301@example.com", "jos\u00e9@example.com"),  # decomposed and composed
        ("STRASSE@example.com", "strasse@example.com"),
        ("stra\u00dfe@example.com", "strasse@example.com"),  # case folding, not just lower-casing
        ("alice@b\u00fccher.de", "alice@xn--bcher-kva.de"),
        ("alice@xn--bcher-kva.de", "alice@xn--bcher-kva.de"),
        ("a.l.i.c.e@gmail.com", "alice@gmail.com"),
        ("Alice.Smith+otp@googlemail.com", "alicesmith@gmail.com"),
        ("a.lice@example.com", "a.lice@example.com"),  # dots matter outside Gmail
        ("alice-news@example.com", "alice-news@example.com"),  # "-" separates tags only by rule
        ("+alice@example.com", "+alice@example.com"),  # a leading separator starts no tag
    ],
)
def test_canonical_mailbox_names_every_spelling_of_one_mailbox_alike(spelling: str, mailbox: str) -> None:
    assert canonical_mailbox(spelling) == mailbox


def test_canonical_mailbox_applies_provider_rules_given_in_any_domain_spelling() -> None:
    rules = MailboxRules(
        tag_separators="+",
        providers={
            "B\u00fccher.DE": ProviderRule(tag_separators="-", ignore_dots=True, same_as="example.com")
        },
    )
    assert canonical_mailbox("a.lice-shop@xn--bcher-kva.de", rules) == "alice@example.com"
    assert canonical_mailbox("a.lice-shop@example.org", rules) == "a.lice-shop@example.org"


def test_canonical_mailbox_without_provider_rules_keeps_gmail_dots() -> None:
    assert canonical_mailbox("a.lice@gmail.com", MailboxRules(providers={})) == "a.lice@gmail.com"


@pytest.mark.parametrize(
    "look_alike",
    [
        "alice\uff20evil.example@example.com",  # full-width at sign
        "alice\uff0ceve@example.com",  # full-width comma
        "alice\ufe6beve@example.com",  # small commercial at
        "a\u00a8b@example.com",  # diaeresis, whose compatibility form holds a space
        "\ufdfa" * 4 + "@example.com",  # expands 18-fold past the 64-byte local-part limit
        "alice\uff0e\uff0ebob@example.com",  # two full-width full stops make ".."
        "\u3392" * 21 + "@" + ".".join(["b" * 63] * 3) + ".co",  # "MHz" squares push it past 254
    ],
    ids=repr,
)
def test_canonical_mailbox_refuses_addresses_that_only_look_like_others(look_alike: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        canonical_mailbox(look_alike)
    assert caught.value.field == "email"


@pytest.mark.parametrize(
    "bad_rules",
    [
        lambda: MailboxRules(tag_separators="."),
        lambda: MailboxRules(tag_separators="a"),
        lambda: MailboxRules(tag_separators="@"),
        lambda: MailboxRules(tag_separators=None),  # type: ignore[arg-type]
        lambda: MailboxRules(providers={"not a domain": ProviderRule()}),
        lambda: ProviderRule(same_as="localhost"),
    ],
)
def test_malformed_mailbox_rules_are_configuration_errors(bad_rules: Callable[[], object]) -> None:
    with pytest.raises(ConfigurationError):
        bad_rules()


@given(st.text(max_size=300))
def test_canonical_mailbox_refuses_what_normalize_refuses_and_is_stable(text: str) -> None:
    try:
        normalize_email(text)
    except InvalidInput:
        with pytest.raises(InvalidInput):
            canonical_mailbox(text)
        return
    try:
        mailbox = canonical_mailbox(text)
    except InvalidInput:
        return
    assert mailbox.count("@") == 1 and not any(ch.isspace() for ch in mailbox)
    assert canonical_mailbox(mailbox) == mailbox


@given(st.emails())
def test_the_canonical_form_of_a_plain_address_is_its_own_canonical_form(address: str) -> None:
    mailbox = canonical_mailbox(address)
    assert canonical_mailbox(mailbox) == mailbox


@given(st.emails(), st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=10))
def test_a_plus_tag_never_changes_the_mailbox(address: str, tag: str) -> None:
    local, domain = address.split("@")
    if len(local) + 1 + len(tag) > 64 or local.startswith("+"):
        return
    assert canonical_mailbox(f"{local}+{tag}@{domain}") == canonical_mailbox(f"{local}@{domain}")
