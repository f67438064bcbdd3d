"""What a browser sends back, read defensively: sized before it is decoded, shaped before it is used.

A response is hostile input from the internet. Its JSON is bounded in length before it is parsed;
every base64url field in alphabet and length; its clientDataJSON must be a flat object of the
expected types; and every CBOR item in it (the attestation object, the credential's public key,
authenticator extensions) is walked once, linearly, under a depth and item limit before the CBOR
decoder sees it, because that decoder copies the rest of its input at every item and would turn
a large flat array into quadratic work. Anything that does not fit raises
:class:`~verifykit.InvalidInput`, before any store operation, so a malformed response costs nothing.

No part of this module imports the WebAuthn library: it runs before the optional extra is needed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from .._errors import InvalidInput

__all__ = [
    "MAX_RESPONSE_LENGTH",
    "Assertion",
    "Attestation",
    "ClientData",
    "b64url_decode",
    "b64url_encode",
    "cbor_item_end",
    "parse_assertion",
    "parse_attestation",
]

#: A response is at most this many characters of JSON: room for an attestation with a certificate
#: chain (a few KiB), far from what parsing cheaply allows.
MAX_RESPONSE_LENGTH = 32 * 1024
#: The WebAuthn limit on a credential id (Level 3, section 5.1: at most 1023 bytes).
MAX_CREDENTIAL_ID = 1023
_MAX_CLIENT_DATA = 4096
_MAX_SIGNATURE = 1024
_MAX_USER_HANDLE = 64
_MAX_TRANSPORTS = 8
_MAX_CBOR_DEPTH = 8
_MAX_CBOR_ITEMS = 512
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
_TRANSPORT = re.compile(r"[a-z-]{1,32}")


def b64url_encode(data: bytes) -> str:
    """Unpadded base64url, as WebAuthn's JSON writes bytes."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64url_decode(text: str) -> bytes:
    """Strict base64url (padding optional); raises ``ValueError`` for anything else."""
    unpadded = text.rstrip("=")
    if not _B64URL.fullmatch(unpadded) or len(unpadded) % 4 == 1 or len(text) - len(unpadded) > 2:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(unpadded + "=" * (-len(unpadded) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def _bytes(doc: dict[str, Any], name: str, limit: int, *, where: str = "response") -> bytes:
    value = doc.get(name)
    # Base64 takes 4 characters per 3 bytes: a longer text cannot fit ``limit``.
    if not isinstance(value, str) or not value or len(value) > (limit * 4 + 2) // 3 + 2:
        raise InvalidInput(f"{where}.{name} is base64url of 1-{limit} bytes", field="response")
    try:
        decoded = b64url_decode(value)
    except ValueError:
        raise InvalidInput(f"{where}.{name} is not base64url", field="response") from None
    if not 0 < len(decoded) <= limit:
        raise InvalidInput(f"{where}.{name} is base64url of 1-{limit} bytes", field="response")
    return decoded


@dataclass(frozen=True, slots=True)
class ClientData:
    """clientDataJSON: what the browser says it asked the authenticator to sign."""

    raw: bytes
    type: str
    challenge: bytes
    origin: str
    cross_origin: bool

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.raw).digest()


@dataclass(frozen=True, slots=True)
class Attestation:
    """A registration response (``navigator.credentials.create``), shaped but not yet checked:
    its attestation object decoded into ``fmt``, ``auth_data`` and ``statement``."""

    raw_id: bytes
    client_data: ClientData
    fmt: str
    auth_data: bytes
    statement: dict[Any, Any]
    transports: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Assertion:
    """An authentication response (``navigator.credentials.get``), shaped but not yet checked."""

    raw_id: bytes
    client_data: ClientData
    authenticator_data: bytes
    signature: bytes
    user_handle: bytes | None


def _document(response_json: object) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    if isinstance(response_json, bytes | bytearray):
        raise InvalidInput("the response is the JSON text the browser produced (a str)", field="response")
    if not isinstance(response_json, str) or not 0 < len(response_json) <= MAX_RESPONSE_LENGTH:
        raise InvalidInput(f"the response is JSON of 1-{MAX_RESPONSE_LENGTH} characters", field="response")
    try:
        doc = json.loads(response_json)
    except (ValueError, RecursionError):
        raise InvalidInput("the response is not JSON", field="response") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("response"), dict):
        raise InvalidInput("the response is a PublicKeyCredential in JSON form", field="response")
    if doc.get("type") != "public-key":
        raise InvalidInput("the response's type is not 'public-key'", field="response")
    raw_id = _bytes(doc, "rawId", MAX_CREDENTIAL_ID, where="credential")
    if "id" in doc and doc["id"] != doc["rawId"]:
        raise InvalidInput("the response's id and rawId differ", field="response")
    return doc, doc["response"], raw_id


def _client_data(response: dict[str, Any]) -> ClientData:
    raw = _bytes(response, "clientDataJSON", _MAX_CLIENT_DATA)
    try:
        data = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        raise InvalidInput("clientDataJSON is not JSON", field="response") from None
    if not isinstance(data, dict):
        raise InvalidInput("clientDataJSON is not an object", field="response")
    kind, challenge, origin = data.get("type"), data.get("challenge"), data.get("origin")
    cross = data.get("crossOrigin", False)
    if not (isinstance(kind, str) and isinstance(challenge, str) and isinstance(origin, str)):
        raise InvalidInput("clientDataJSON lacks its type, challenge or origin", field="response")
    if not isinstance(cross, bool) or len(challenge) > 128:
        raise InvalidInput("clientDataJSON has a malformed challenge or crossOrigin", field="response")
    try:
        challenge_bytes = b64url_decode(challenge)
    except ValueError:
        raise InvalidInput("clientDataJSON's challenge is not base64url", field="response") from None
    return ClientData(raw, kind, challenge_bytes, origin, cross)


def parse_attestation(response_json: object) -> Attestation:
    """Shape a registration response; :class:`InvalidInput` when it does not fit."""
    _doc, response, raw_id = _document(response_json)
    client_data = _client_data(response)
    attestation_object = _bytes(response, "attestationObject", MAX_RESPONSE_LENGTH)
    decoded = _whole_cbor(attestation_object, "attestationObject")
    fmt, auth_data, statement = decoded.get("fmt"), decoded.get("authData"), decoded.get("attStmt")
    if not (
        isinstance(fmt, str)
        and len(fmt) <= 32
        and isinstance(auth_data, bytes)
        and isinstance(statement, dict)
    ):
        raise InvalidInput("attestationObject lacks its fmt, authData or attStmt", field="response")
    check_authenticator_data(auth_data)
    if not auth_data[32] & _FLAG_AT:
        raise InvalidInput("a registration's authenticatorData holds no credential", field="response")
    transports = response.get("transports", [])
    if (
        not isinstance(transports, list)
        or len(transports) > _MAX_TRANSPORTS
        or not all(isinstance(t, str) and _TRANSPORT.fullmatch(t) for t in transports)
    ):
        raise InvalidInput("response.transports is a short list of transport names", field="response")
    return Attestation(raw_id, client_data, fmt, auth_data, statement, tuple(dict.fromkeys(transports)))


def parse_assertion(response_json: object) -> Assertion:
    """Shape an authentication response; :class:`InvalidInput` when it does not fit."""
    _doc, response, raw_id = _document(response_json)
    client_data = _client_data(response)
    authenticator_data = _bytes(response, "authenticatorData", MAX_RESPONSE_LENGTH)
    check_authenticator_data(authenticator_data)
    signature = _bytes(response, "signature", _MAX_SIGNATURE)
    user_handle = None
    if response.get("userHandle") not in (None, ""):
        user_handle = _bytes(response, "userHandle", _MAX_USER_HANDLE)
    return Assertion(raw_id, client_data, authenticator_data, signature, user_handle)


# -- CBOR, walked before it is decoded -----------------------------------------------------------

_AUTH_DATA_HEAD = 37  # rpIdHash (32), flags (1), signCount (4)
_FLAG_AT = 0x40
_FLAG_ED = 0x80


def _argument(data: bytes, at: int, info: int) -> tuple[int, int]:
    if info < 24:
        return info, at
    size = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
    if size is None or at + size > len(data):
        raise ValueError("bad CBOR argument")
    return int.from_bytes(data[at : at + size], "big"), at + size


def cbor_item_end(data: bytes, at: int = 0) -> int:
    """Where the one CBOR item starting at ``at`` ends, if it fits WebAuthn's subset and the limits
    (definite lengths only, at most 8 deep, 512 items); ``ValueError`` otherwise. Linear time."""
    items = 0
    # Each entry: how many more items the open array or map at that depth still holds.
    pending = [1]
    while pending:
        if pending[-1] == 0:
            pending.pop()
            continue
        pending[-1] -= 1
        items += 1
        if items > _MAX_CBOR_ITEMS or at >= len(data):
            raise ValueError("CBOR too large or truncated")
        major, info = data[at] >> 5, data[at] & 0x1F
        value, at = _argument(data, at + 1, info)
        if major in (2, 3):  # byte or text string
            if value > len(data) - at:
                raise ValueError("CBOR string runs past the end")
            at += value
        elif major in (4, 5):  # array, map
            if len(pending) > _MAX_CBOR_DEPTH:
                raise ValueError("CBOR nested too deep")
            pending.append(value * (2 if major == 5 else 1))
        elif major == 7 and info not in (20, 21, 22):  # false, true, null
            raise ValueError("CBOR simple value or float WebAuthn does not use")
        elif major == 6:
            raise ValueError("CBOR tags are not used by WebAuthn")
    return at


def _decode(data: bytes, at: int) -> tuple[Any, int]:  # noqa: PLR0911 - one per CBOR major type
    """Decode the item at ``at``: only ever called on bytes :func:`cbor_item_end` walked, so its
    recursion and work are bounded by the same limits."""
    major, info = data[at] >> 5, data[at] & 0x1F
    value, at = _argument(data, at + 1, info)
    if major == 0:
        return value, at
    if major == 1:
        return -1 - value, at
    if major == 2:
        return data[at : at + value], at + value
    if major == 3:
        return data[at : at + value].decode("utf-8"), at + value
    if major == 4:
        items = []
        for _ in range(value):
            item, at = _decode(data, at)
            items.append(item)
        return items, at
    if major == 5:
        mapping: dict[Any, Any] = {}
        for _ in range(value):
            key, at = _decode(data, at)
            if not isinstance(key, int | str | bytes) or key in mapping:
                raise ValueError("CBOR map key not a plain, distinct value")
            mapping[key], at = _decode(data, at)
        return mapping, at
    return {20: False, 21: True, 22: None}[info], at


def _whole_cbor(data: bytes, name: str) -> dict[Any, Any]:
    """``data`` decoded, if it is one CBOR map within the limits and nothing after it."""
    try:
        if cbor_item_end(data) != len(data):
            raise ValueError("trailing bytes")
        decoded, _end = _decode(data, 0)
    except ValueError as exc:
        raise InvalidInput(f"{name} is not CBOR that WebAuthn sends ({exc})", field="response") from None
    if not isinstance(decoded, dict):
        raise InvalidInput(f"{name} is not a CBOR map", field="response")
    return decoded


def check_authenticator_data(data: bytes) -> None:
    """Walk authenticator data: the fixed head, any attested credential (its COSE key is CBOR), any
    extensions (CBOR), and nothing after them. :class:`InvalidInput` when it does not fit."""
    try:
        if len(data) < _AUTH_DATA_HEAD:
            raise ValueError("shorter than its fixed head")
        flags, at = data[32], _AUTH_DATA_HEAD
        if flags & _FLAG_AT:
            if at + 18 > len(data):
                raise ValueError("attested credential data truncated")
            (length,) = struct.unpack_from(">H", data, at + 16)
            at += 18 + length
            if length > MAX_CREDENTIAL_ID or at > len(data):
                raise ValueError("credential id too long or truncated")
            at = cbor_item_end(data, at)
        if flags & _FLAG_ED:
            at = cbor_item_end(data, at)
        if at != len(data):
            raise ValueError("trailing bytes")
    except ValueError as exc:
        raise InvalidInput(f"authenticatorData is malformed ({exc})", field="response") from None
