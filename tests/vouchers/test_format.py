"""The voucher format: the documented byte layout, small enough for a QR code, and not one byte
of it can change without the voucher being refused."""

from __future__ import annotations

import base64
import hashlib
import struct

import pytest

from verifykit import InvalidInput, Reason
from verifykit.vouchers import (
    MAX_TEXT_LENGTH,
    MAX_VOUCHER_TTL,
    OfficerRegistry,
    VoucherSettings,
    cosign_voucher,
    decode_voucher,
    generate_officer_key,
    inspect_voucher,
    issue_voucher,
    key_id,
)

NOW = 1_700_000_000
ALICE = generate_officer_key()
BOB = generate_officer_key()
REGISTRY = OfficerRegistry.empty().add(ALICE.public_key(), "alice").add(BOB.public_key(), "bob")
SETTINGS = VoucherSettings()


def issue(**fields: object) -> str:
    options: dict[str, object] = {
        "subject": "user-1",
        "reason": "lost_phone",
        "unlocks": ["password", "totp"],
    }
    options.update(fields)
    return issue_voucher(ALICE, now=NOW, ttl=600, **options)  # type: ignore[arg-type]


def raw(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def text_of(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def check(text: str) -> Reason | None:
    return inspect_voucher(text, REGISTRY, SETTINGS, now=NOW + 1, subject="user-1").reason


def test_the_bytes_follow_the_documented_layout() -> None:
    nonce = bytes(range(16))
    data = raw(issue(nonce=nonce))
    version, issued_at, expires_at, got_nonce, digest = struct.unpack(">BQQ16s16s", data[:49])
    assert (version, issued_at, expires_at, got_nonce) == (1, NOW, NOW + 600, nonce)
    assert digest == hashlib.sha256(b"verifykit voucher subject\x00" + nonce + b"user-1").digest()[:16]
    assert data[49:60] == b"\x0alost_phone"
    assert data[60:75] == b"\x02\x08password\x04totp"
    body, signatures = data[:75], data[75:]
    assert signatures[0] == 1 and len(signatures) == 1 + 16 + 64
    assert signatures[1:17].hex() == key_id(ALICE.public_key())
    ALICE.public_key().verify(signatures[17:], b"verifykit voucher v1\x00" + body)


def test_the_voucher_does_not_show_the_subject() -> None:
    assert b"user-1" not in raw(issue(subject="user-1"))


def test_a_typical_voucher_fits_a_small_qr_code() -> None:
    # Byte-mode capacity at error correction M: version 10 holds 213 characters, version 13 holds 331.
    single = issue()
    assert len(single) <= 213
    assert len(cosign_voucher(single, BOB, subject="user-1")) <= 331


def test_the_longest_voucher_there_can_be_fits_the_text_limit() -> None:
    longest = issue(reason="r" * 32, unlocks=[f"{c}" * 32 for c in "abcdefgh"])
    longest = cosign_voucher(longest, BOB, subject="user-1")
    assert len(longest) == MAX_TEXT_LENGTH


def test_a_voucher_reads_back_as_issued() -> None:
    voucher = decode_voucher(issue())
    assert (voucher.issued_at, voucher.ttl, voucher.reason) == (NOW, 600, "lost_phone")
    assert voucher.unlocks == ("password", "totp")
    assert voucher.for_subject("user-1") and not voucher.for_subject("user-2")
    assert check(issue()) is None


def test_every_one_bit_change_anywhere_is_refused() -> None:
    data = raw(issue())
    for index in range(len(data)):
        for bit in range(8):
            altered = bytearray(data)
            altered[index] ^= 1 << bit
            assert check(text_of(bytes(altered))) is not None, (index, bit)


def test_every_changed_character_is_refused() -> None:
    text = issue()
    for index, char in enumerate(text):
        for other in "AQgw_-":
            if other != char:
                assert check(text[:index] + other + text[index + 1 :]) is not None, (index, other)


def test_a_truncated_voucher_is_malformed_at_every_length() -> None:
    data = raw(issue())
    for length in range(len(data)):
        assert check(text_of(data[:length])) is Reason.MALFORMED, length


def test_bytes_after_the_signatures_are_malformed() -> None:
    assert check(text_of(raw(issue()) + b"\x00")) is Reason.MALFORMED


def test_text_longer_than_any_voucher_is_refused_unread() -> None:
    assert check("A" * (MAX_TEXT_LENGTH + 1)) is Reason.MALFORMED


def test_surrounding_whitespace_from_a_scanner_is_ignored() -> None:
    assert check(f"  {issue()}\n") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"ttl": MAX_VOUCHER_TTL + 1},
        {"ttl": 0},
        {"reason": "Lost Phone"},
        {"reason": ""},
        {"unlocks": []},
        {"unlocks": "password"},
        {"unlocks": ["PASSWORD"]},
        {"subject": ""},
    ],
)
def test_issuing_refuses_a_malformed_field(fields: dict[str, object]) -> None:
    options: dict[str, object] = {"subject": "user-1", "reason": "lost_phone", "unlocks": ["otp"], "ttl": 600}
    options.update(fields)
    with pytest.raises(InvalidInput):
        issue_voucher(ALICE, now=NOW, **options)  # type: ignore[arg-type]


def test_a_second_signature_by_the_same_key_is_refused_at_the_counter() -> None:
    with pytest.raises(InvalidInput):
        cosign_voucher(issue(), ALICE, subject="user-1")


def test_a_second_officer_cannot_cosign_for_another_subject() -> None:
    with pytest.raises(InvalidInput):
        cosign_voucher(issue(subject="user-2"), BOB, subject="user-1")


def test_a_voucher_carries_at_most_two_signatures() -> None:
    carol = generate_officer_key()
    with pytest.raises(InvalidInput):
        cosign_voucher(cosign_voucher(issue(), BOB, subject="user-1"), carol, subject="user-1")


def test_a_signed_lifetime_above_the_ceiling_is_refused() -> None:
    # Signed by a registered key, but with a lifetime no counter tool would issue.
    data = bytearray(raw(issue()))[:75]
    data[9:17] = struct.pack(">Q", NOW + 3600)
    body = bytes(data)
    signed = (
        body
        + b"\x01"
        + bytes.fromhex(key_id(ALICE.public_key()))
        + ALICE.sign(b"verifykit voucher v1\x00" + body)
    )
    assert check(text_of(signed)) is Reason.TTL_TOO_LONG


def test_inspection_reports_each_signature() -> None:
    cosigned = cosign_voucher(issue(), BOB, subject="user-1")
    found = inspect_voucher(cosigned, REGISTRY, VoucherSettings(four_eyes=True), now=NOW + 1)
    assert [(s.name, s.status.value) for s in found.signatures] == [("alice", "valid"), ("bob", "valid")]
    assert found.acceptable and found.subject_matches is None
