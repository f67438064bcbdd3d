"""A passkey as the caller keeps it: the public facts about one credential, bound to its subject.

Nothing in a credential is secret (a public key, a counter, flags), but its integrity matters: a
swapped public key would let another authenticator in, and a flipped ``trusted_attestation`` or
``backup_eligible`` would lift it to AAL3. So the stored form carries a keyed MAC over the subject
and the body, checked whenever it is read back.

The MAC is under the keyring's current key; a sign-in with a credential MAC'd under an older key
hands back a fresh stored form (``Verdict.stored``), so credentials in use move to a new key by
themselves. Keep an old key in the keyring while credentials MAC'd under it may still be used.

The stored form is one opaque ASCII string, ``pk1.<base64url JSON>.<kid>:<hex MAC>``, rather than
a JSON object: a database that normalises JSON (PostgreSQL ``jsonb`` reorders keys) would
otherwise change the bytes the MAC covers.
"""

from __future__ import annotations

import binascii
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._errors import InvalidInput, TemplateError
from ..crypto import Keyring
from ._response import b64url_decode, b64url_encode

__all__ = [
    "MAX_CREDENTIALS",
    "MAX_STORED_LENGTH",
    "PasskeyCredential",
    "assurance",
    "current",
    "open_credential",
    "open_credentials",
    "seal_credential",
]

_VERSION = "pk1"
_MAC_PURPOSE = "passkey-credential"
#: A stored credential is at most this many characters (a 1023-byte credential id and an RSA key fit).
MAX_STORED_LENGTH = 8192
#: At most this many credentials per subject in one call (the browser lists each in its options).
MAX_CREDENTIALS = 100
_STORED = re.compile(r"pk1\.([A-Za-z0-9_-]+)\.([A-Za-z0-9]{1,32}:[0-9a-f]{64})")
_MAX_TRANSPORTS = 8


@dataclass(frozen=True, slots=True)
class PasskeyCredential:
    """One registered passkey.

    - ``credential_id``: the authenticator's id for it (match it with ``Verdict.details
      ["credential_id"]``, base64url, to know which stored credential an approval used).
    - ``public_key``: its COSE key; ``algorithm`` the COSE algorithm id.
    - ``sign_count``: the authenticator's signature counter at its last use (0: it keeps none,
      as synced passkeys do).
    - ``backup_eligible``: the authenticator may sync it to other devices (a *synced* passkey);
      ``False`` means device-bound for its whole life. ``backed_up``: it is synced now.
    - ``aaguid``: the authenticator model's id, all zeros when not disclosed.
    - ``attestation_format``: ``none``, ``packed``, ``tpm``, …; ``trusted_attestation``: its
      attestation chains to a root the operator trusts (``PasskeySettings.attestation_roots``).
    - ``user_verified``: the authenticator checked a PIN or biometric when it was made.
    - ``transports``: how the browser may reach it (``internal``, ``usb``, ``hybrid``, …).
    - ``created_at``: when it was registered (the store's clock).
    """

    credential_id: bytes
    public_key: bytes
    algorithm: int
    sign_count: int
    backup_eligible: bool
    backed_up: bool
    aaguid: str
    attestation_format: str
    trusted_attestation: bool
    user_verified: bool
    transports: tuple[str, ...]
    created_at: float

    @property
    def id(self) -> str:
        """The credential id as the browser writes it (base64url)."""
        return b64url_encode(self.credential_id)

    @property
    def device_bound(self) -> bool:
        """It can never leave the authenticator that made it (not backup eligible)."""
        return not self.backup_eligible

    def used(self, *, sign_count: int, backed_up: bool) -> PasskeyCredential:
        """This credential after an approved use."""
        return replace(self, sign_count=sign_count, backed_up=backed_up)


def assurance(credential: PasskeyCredential) -> int:
    """The NIST SP 800-63B-4 authentication assurance level one passkey reaches on its own: 2 or 3.

    A passkey used with user verification is a multi-factor cryptographic authenticator (section
    3.1.7) whose signature covers the origin, so it resists phishing (section 3.2.5): AAL2 on its
    own (section 2.2). AAL3 also needs a key that cannot be exported (section 2.3.2), which a
    *syncable* authenticator (a synced passkey: backup eligible) is not, so it stops at AAL2
    (section 3.1.7.4 and appendix B). That a key is device-bound is the authenticator's own claim
    unless its attestation chains to a root the operator trusts. So AAL3 needs all three:
    device-bound, trusted attestation, and user verification when it was made. (AAL3 asks things
    of the verifier too, such as its FIPS 140 validation; those are the operator's to meet.)
    """
    if credential.device_bound and credential.trusted_attestation and credential.user_verified:
        return 3
    return 2


def _body(credential: PasskeyCredential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "pk": b64url_encode(credential.public_key),
        "alg": credential.algorithm,
        "sc": credential.sign_count,
        "be": credential.backup_eligible,
        "bs": credential.backed_up,
        "aaguid": credential.aaguid,
        "fmt": credential.attestation_format,
        "att": credential.trusted_attestation,
        "uv": credential.user_verified,
        "tr": list(credential.transports),
        "ct": credential.created_at,
    }


def _mac_input(subject: str, body: str) -> bytes:
    return f"{_VERSION}\x00{subject}\x00{body}".encode()


def seal_credential(keyring: Keyring, subject: str, credential: PasskeyCredential) -> str:
    """The stored form of ``credential`` for ``subject``: opaque ASCII, MAC'd under the keyring."""
    text = json.dumps(_body(credential), separators=(",", ":"), sort_keys=True)
    body = b64url_encode(text.encode())
    return f"{_VERSION}.{body}.{keyring.digest(_MAC_PURPOSE, _mac_input(subject, body))}"


def _field(doc: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = doc.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
        raise TemplateError(f"a stored passkey has a malformed {name!r}")
    return value


def _parse(doc: object) -> PasskeyCredential:
    if not isinstance(doc, dict):
        raise TemplateError("a stored passkey is not an object")
    transports = _field(doc, "tr", list)
    if len(transports) > _MAX_TRANSPORTS or not all(isinstance(t, str) and len(t) <= 32 for t in transports):
        raise TemplateError("a stored passkey has malformed transports")
    created = _field(doc, "ct", (int, float))
    sign_count = _field(doc, "sc", int)
    if not math.isfinite(created) or not 0 <= sign_count <= 0xFFFFFFFF:
        raise TemplateError("a stored passkey has a malformed time or counter")
    try:
        credential_id = b64url_decode(_field(doc, "id", str))
        public_key = b64url_decode(_field(doc, "pk", str))
    except ValueError:
        raise TemplateError("a stored passkey has a malformed id or key") from None
    return PasskeyCredential(
        credential_id=credential_id,
        public_key=public_key,
        algorithm=_field(doc, "alg", int),
        sign_count=sign_count,
        backup_eligible=_field(doc, "be", bool),
        backed_up=_field(doc, "bs", bool),
        aaguid=_field(doc, "aaguid", str),
        attestation_format=_field(doc, "fmt", str),
        trusted_attestation=_field(doc, "att", bool),
        user_verified=_field(doc, "uv", bool),
        transports=tuple(transports),
        created_at=float(created),
    )


def open_credential(keyring: Keyring, subject: str, stored: str) -> PasskeyCredential:
    """Read back a credential from its stored form, checking that it is ``subject``'s and unchanged.

    Raises :class:`~verifykit.InvalidInput` for a string that is not a stored passkey at all and
    :class:`~verifykit.TemplateError` for one that is another subject's, was changed, or was sealed
    under a key the keyring no longer holds.
    """
    if not isinstance(stored, str) or len(stored) > MAX_STORED_LENGTH:
        raise InvalidInput(
            f"a stored passkey is a string of at most {MAX_STORED_LENGTH} characters", field="stored"
        )
    match = _STORED.fullmatch(stored)
    if match is None:
        raise InvalidInput("not a stored passkey (pk1.…)", field="stored")
    body, mac = match.groups()
    if not keyring.verify_digest(_MAC_PURPOSE, _mac_input(subject, body), mac):
        raise TemplateError("this stored passkey is not this subject's, or it was changed")
    try:
        doc = json.loads(b64url_decode(body))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise TemplateError("a stored passkey's body is not JSON") from None
    return _parse(doc)


def current(keyring: Keyring, stored: str) -> bool:
    """Whether ``stored`` (already opened) is MAC'd under the keyring's current key."""
    return stored.rpartition(".")[2].partition(":")[0] == keyring.current_id


def open_credentials(
    keyring: Keyring, subject: str, stored: Sequence[str], name: str
) -> list[PasskeyCredential]:
    """:func:`open_credential` for each of ``subject``'s stored credentials (at most
    :data:`MAX_CREDENTIALS`); ``name`` is the argument's name in errors."""
    if isinstance(stored, str | bytes) or not isinstance(stored, Sequence):
        raise InvalidInput(f"{name} is a sequence of stored passkeys", field=name)
    if len(stored) > MAX_CREDENTIALS:
        raise InvalidInput(f"{name} holds at most {MAX_CREDENTIALS} passkeys", field=name)
    return [open_credential(keyring, subject, each) for each in stored]
