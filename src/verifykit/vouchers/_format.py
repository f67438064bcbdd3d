"""The voucher format: compact binary, signed with Ed25519, carried as base64url text (a QR code).

Version 1, all integers big-endian::

    body        version        1 byte   = 1
                issued_at      8 bytes  Unix seconds (the counter's clock)
                expires_at     8 bytes  Unix seconds; expires_at - issued_at <= 900
                nonce         16 bytes  random; the redemption marker's key
                subject       16 bytes  SHA-256("verifykit voucher subject" 0x00 nonce subject)[:16]
                reason         1 byte length r (1-32), then r ASCII bytes  [a-z][a-z0-9_]*
                unlocks        1 byte count n (1-8), then n times: 1 byte length (1-32), ASCII name
    signatures  count          1 byte s (1-2)
                s times        16 bytes officer key id, 64 bytes Ed25519 signature

Each signature is over ``"verifykit voucher v1" 0x00 || body``; a second officer adds theirs to
the same body. The subject is carried as a digest salted with the nonce: the voucher does not show
the account id, and the service, which knows whom it redeems for, recomputes it.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import math
import re
import secrets
import struct
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._errors import InvalidInput
from .._subject import validate_subject
from ._b64 import b64url_decode, b64url_encode
from ._officers import KEY_ID_BYTES, key_id
from ._settings import MAX_VOUCHER_TTL

__all__ = [
    "MAX_SIGNATURES",
    "MAX_TEXT_LENGTH",
    "NONCE_BYTES",
    "Voucher",
    "VoucherSignature",
    "cosign_voucher",
    "decode_voucher",
    "encode_voucher",
    "issue_voucher",
    "subject_digest",
]

VERSION = 1
NONCE_BYTES = 16
SUBJECT_BYTES = 16
SIGNATURE_BYTES = 64
MAX_SIGNATURES = 2
MAX_UNLOCKS = 8
MAX_NAME = 32
_CONTEXT = b"verifykit voucher v1\x00"
_SUBJECT_CONTEXT = b"verifykit voucher subject\x00"
_HEAD = struct.Struct(">BQQ16s16s")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_TEXT = re.compile(r"^[A-Za-z0-9_-]+$")
_MAX_BODY = _HEAD.size + 1 + MAX_NAME + 1 + MAX_UNLOCKS * (1 + MAX_NAME)
_MAX_BYTES = _MAX_BODY + 1 + MAX_SIGNATURES * (KEY_ID_BYTES + SIGNATURE_BYTES)
#: The longest voucher text there can be (678 characters); longer input is refused unread.
MAX_TEXT_LENGTH = math.ceil(_MAX_BYTES * 4 / 3)


@dataclass(frozen=True, slots=True)
class VoucherSignature:
    """One officer's signature: the officer's key id (hex) and the 64-byte Ed25519 signature."""

    key_id: str
    signature: bytes


@dataclass(frozen=True, slots=True)
class Voucher:
    """A decoded voucher. Decoding checks the shape only: nothing here is trusted until
    :func:`~verifykit.vouchers.inspect_voucher` or a redemption has checked the signatures."""

    version: int
    issued_at: int
    expires_at: int
    nonce: bytes
    subject_digest: bytes
    reason: str
    unlocks: tuple[str, ...]
    signatures: tuple[VoucherSignature, ...]
    body: bytes

    @property
    def ttl(self) -> int:
        """Seconds from issue to expiry, as the voucher declares."""
        return self.expires_at - self.issued_at

    @property
    def nonce_hex(self) -> str:
        return self.nonce.hex()

    def signed_message(self) -> bytes:
        """What every signature of this voucher signs."""
        return _CONTEXT + self.body

    def for_subject(self, subject: str) -> bool:
        """Whether the voucher was issued for ``subject`` (compared in constant time)."""
        return hmac.compare_digest(self.subject_digest, subject_digest(self.nonce, subject))

    def encode(self) -> str:
        return encode_voucher(self.body, self.signatures)


def subject_digest(nonce: bytes, subject: str) -> bytes:
    """The 16-byte subject binding a voucher carries (salted with its nonce)."""
    salted = _SUBJECT_CONTEXT + nonce + validate_subject(subject).encode()
    return hashlib.sha256(salted).digest()[:SUBJECT_BYTES]


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise InvalidInput(f"{what} is a lowercase name of 1-{MAX_NAME} such as 'lost_phone'", field=what)
    return value


def _body(head: tuple[int, int, bytes, bytes], reason: str, unlocks: Sequence[str]) -> bytes:
    parts = [_HEAD.pack(VERSION, *head)]
    parts.append(bytes([len(reason)]) + reason.encode("ascii"))
    parts.append(bytes([len(unlocks)]))
    parts.extend(bytes([len(name)]) + name.encode("ascii") for name in unlocks)
    return b"".join(parts)


def encode_voucher(body: bytes, signatures: Sequence[VoucherSignature]) -> str:
    """Body and signatures as base64url text without padding."""
    tail = [bytes([len(signatures)])]
    tail.extend(bytes.fromhex(s.key_id) + s.signature for s in signatures)
    return b64url_encode(body + b"".join(tail))


def issue_voucher(
    key: Ed25519PrivateKey,
    *,
    subject: str,
    reason: str,
    unlocks: Sequence[str],
    ttl: float = MAX_VOUCHER_TTL,
    now: float | None = None,
    nonce: bytes | None = None,
) -> str:
    """A voucher for ``subject``, signed by the officer whose key is ``key``; base64url text.

    ``unlocks`` names the verifiers whose lockouts it clears (:class:`~verifykit.Way`
    values); ``ttl`` is at most :data:`MAX_VOUCHER_TTL` seconds. Raises :class:`InvalidInput`
    for any malformed field.
    """
    subject = validate_subject(subject)
    reason = _name(reason, "reason")
    if isinstance(unlocks, str) or not 1 <= len(unlocks) <= MAX_UNLOCKS:
        raise InvalidInput(f"unlocks names 1-{MAX_UNLOCKS} verifiers", field="unlocks")
    names = tuple(dict.fromkeys(_name(str(u), "unlocks") for u in unlocks))
    if not (isinstance(ttl, int | float) and 0 < ttl <= MAX_VOUCHER_TTL):
        raise InvalidInput(f"ttl must be between 0 and {MAX_VOUCHER_TTL:.0f} seconds", field="ttl")
    issued_at = math.floor(time.time() if now is None else now)
    nonce = secrets.token_bytes(NONCE_BYTES) if nonce is None else nonce
    if len(nonce) != NONCE_BYTES:
        raise InvalidInput(f"a nonce is {NONCE_BYTES} bytes", field="nonce")
    head = (issued_at, issued_at + math.ceil(ttl), nonce, subject_digest(nonce, subject))
    body = _body(head, reason, names)
    signature = VoucherSignature(key_id(key.public_key()), key.sign(_CONTEXT + body))
    return encode_voucher(body, (signature,))


def cosign_voucher(text: str, key: Ed25519PrivateKey, *, subject: str) -> str:
    """``text`` with a second officer's signature added (four eyes).

    The second officer names the subject they checked: a voucher issued for anyone else is
    refused, as is a second signature by the same key. Raises :class:`InvalidInput`.
    """
    voucher = decode_voucher(text)
    if not voucher.for_subject(subject):
        raise InvalidInput("this voucher was issued for another subject", field="subject")
    if len(voucher.signatures) >= MAX_SIGNATURES:
        raise InvalidInput(f"a voucher carries at most {MAX_SIGNATURES} signatures", field="voucher")
    kid = key_id(key.public_key())
    if any(s.key_id == kid for s in voucher.signatures):
        raise InvalidInput("this key signed the voucher already: four eyes need another officer", field="key")
    signature = VoucherSignature(kid, key.sign(voucher.signed_message()))
    return encode_voucher(voucher.body, (*voucher.signatures, signature))


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise InvalidInput("the voucher is truncated", field="voucher")
        chunk = self.data[self.at : self.at + n]
        self.at += n
        return chunk

    def byte(self) -> int:
        return self.take(1)[0]

    def name(self, what: str) -> str:
        length = self.byte()
        raw = self.take(length)
        try:
            return _name(raw.decode("ascii"), what)
        except UnicodeDecodeError:
            raise InvalidInput(f"the voucher's {what} is not ASCII", field="voucher") from None


def _bytes(text: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput("a voucher is base64url text", field="voucher")
    text = text.strip()
    if not 0 < len(text) <= MAX_TEXT_LENGTH or not _TEXT.match(text):
        raise InvalidInput(f"a voucher is 1-{MAX_TEXT_LENGTH} base64url characters", field="voucher")
    try:
        data = b64url_decode(text)
    except (binascii.Error, ValueError):
        raise InvalidInput("the voucher is not base64url", field="voucher") from None
    # One text per voucher: spare bits set in the last character would decode to the same bytes.
    if b64url_encode(data) != text:
        raise InvalidInput("the voucher is not canonical base64url", field="voucher")
    return data


def decode_voucher(text: str) -> Voucher:
    """Parse voucher text; :class:`InvalidInput` (field ``voucher``) when it is not a well-formed voucher."""
    reader = _Reader(_bytes(text))
    version, issued_at, expires_at, nonce, digest = _HEAD.unpack(reader.take(_HEAD.size))
    if version != VERSION:
        raise InvalidInput(f"voucher version {version} is not supported", field="voucher")
    if expires_at <= issued_at:
        raise InvalidInput("the voucher expires before it is issued", field="voucher")
    reason = reader.name("reason")
    count = reader.byte()
    if not 1 <= count <= MAX_UNLOCKS:
        raise InvalidInput(f"a voucher unlocks 1-{MAX_UNLOCKS} verifiers", field="voucher")
    unlocks = tuple(reader.name("unlocks") for _ in range(count))
    if len(set(unlocks)) != len(unlocks):
        raise InvalidInput("the voucher names a verifier twice", field="voucher")
    body = reader.data[: reader.at]
    signed = reader.byte()
    if not 1 <= signed <= MAX_SIGNATURES:
        raise InvalidInput(f"a voucher carries 1-{MAX_SIGNATURES} signatures", field="voucher")
    signatures = tuple(
        VoucherSignature(reader.take(KEY_ID_BYTES).hex(), reader.take(SIGNATURE_BYTES)) for _ in range(signed)
    )
    if reader.at != len(reader.data):
        raise InvalidInput("the voucher has bytes after its signatures", field="voucher")
    return Voucher(version, issued_at, expires_at, nonce, digest, reason, unlocks, signatures, body)
