"""The destination limit counts sends per mailbox, however its address is spelled; mail still goes
to the address as given."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from verifykit import InvalidInput, RateLimited
from verifykit.delivery import MailboxRules, ProviderRule
from verifykit.store import WindowPolicy
from verifykit.testing import FakeClock, Outbox

MakeOTP = Callable[..., Any]

SPELLINGS_OF_ONE_MAILBOX = {
    "plus tags": [
        "alice@example.com",
        "alice+1@example.com",
        "alice+news@example.com",
        "ALICE+x@Example.com",
    ],
    "compatibility forms": [
        "alice@example.com",
        "\uff41\uff4c\uff49\uff43\uff45@example.com",  # full-width letters
        "alice@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0ecom",  # full-width domain and full stop
    ],
    "composed and decomposed": ["jos\u00e9@example.com", "jose\u0301@example.com", "JOS\u00c9@example.com"],
    "international domains": [
        "alice@b\u00fccher.de",
        "alice@B\u00dcCHER.DE",
        "alice@xn--bcher-kva.de",
        "alice@b\u00fccher\u3002de",
    ],
    "gmail dots and googlemail": [
        "alicesmith@gmail.com",
        "alice.smith@gmail.com",
        "a.l.i.c.e.s.m.i.t.h@gmail.com",
        "Alice.Smith+otp@googlemail.com",
    ],
}


@pytest.mark.parametrize("spellings", SPELLINGS_OF_ONE_MAILBOX.values(), ids=SPELLINGS_OF_ONE_MAILBOX.keys())
def test_every_spelling_of_one_mailbox_counts_against_one_destination_limit(
    memory_otp: MakeOTP, spellings: list[str]
) -> None:
    otp = memory_otp(destination_limit=WindowPolicy(limit=len(spellings) - 1, window=600), subject_limit=None)
    for n, address in enumerate(spellings[:-1]):
        otp.start(f"user-{n}", address)
    with pytest.raises(RateLimited) as caught:
        otp.start("user-last", spellings[-1])
    assert caught.value.reason == "destination_limit"


def test_mail_goes_to_the_address_as_given(memory_otp: MakeOTP, outbox: Outbox) -> None:
    otp = memory_otp()
    otp.start("user-1", "Alice.Smith+otp@googlemail.com")
    otp.start("user-2", "\uff41\uff4c\uff49\uff43\uff45@b\u00fccher.de")
    assert [m["To"] for m in outbox.messages] == [
        "Alice.Smith+otp@googlemail.com",
        "\uff41\uff4c\uff49\uff43\uff45@xn--bcher-kva.de",  # only the domain is encoded, for transport
    ]


def test_different_mailboxes_keep_separate_limits(memory_otp: MakeOTP, outbox: Outbox) -> None:
    otp = memory_otp(destination_limit=WindowPolicy(limit=1, window=600), subject_limit=None)
    # Dots matter outside Gmail; other names and other domains are other mailboxes.
    addresses = ["alice@example.com", "a.lice@example.com", "alice@example.org", "bob@gmail.com"]
    sent = [otp.start(f"user-{n}", address).delivery for n, address in enumerate(addresses)]
    assert sent == ["sent"] * len(addresses)
    assert [m["To"] for m in outbox.messages] == addresses
    for address in addresses:  # each mailbox spent its own limit of one, no other's
        with pytest.raises(RateLimited) as caught:
            otp.start("user-again", address)
        assert caught.value.reason == "destination_limit"


def test_a_resend_counts_against_the_mailbox_limit_too(memory_otp: MakeOTP, clock: FakeClock) -> None:
    otp = memory_otp(
        destination_limit=WindowPolicy(limit=2, window=600), subject_limit=None, resend_cooldown=0
    )
    first = otp.start("user-1", "alice@example.com")
    otp.start("user-2", "alice+again@example.com")
    clock.advance(1)
    with pytest.raises(RateLimited) as caught:
        otp.resend(first.id)
    assert caught.value.reason == "destination_limit"


def test_a_provider_rule_can_add_a_tag_separator(memory_otp: MakeOTP) -> None:
    rules = MailboxRules(providers={"example.org": ProviderRule(tag_separators="+-")})
    otp = memory_otp(
        destination_limit=WindowPolicy(limit=1, window=600), subject_limit=None, mailbox_rules=rules
    )
    otp.start("user-1", "bob@example.org")
    with pytest.raises(RateLimited):
        otp.start("user-2", "bob-shop@example.org")


def test_a_look_alike_address_is_refused_before_anything_is_sent(memory_otp: MakeOTP, outbox: Outbox) -> None:
    otp = memory_otp()
    with pytest.raises(InvalidInput) as caught:
        otp.start("user-1", "alice\uff20evil.example@example.com")  # a full-width at sign
    assert caught.value.field == "email"
    assert outbox.messages == []
