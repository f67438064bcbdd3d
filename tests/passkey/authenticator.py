"""A software authenticator and browser in one: what ``navigator.credentials`` would hand a page.

It builds every byte itself from ``cryptography`` keys, with its own small CBOR encoder, so the
tests check verifykit against the WebAuthn formats rather than against the library verifykit uses
to read them. Each knob is a fact a real authenticator or browser reports: the origin the browser
saw, the rp id hashed into authenticator data, the UP/UV/BE/BS flags, the signature counter,
and the attestation (``none``; ``packed`` self attestation; ``packed`` with a certificate from
:class:`TestCA`).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

__all__ = ["ORIGIN", "RP_ID", "SoftAuthenticator", "TestCA", "b64url", "cbor", "unb64url"]

RP_ID = "example.com"
ORIGIN = "https://example.com"

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
ES256, EDDSA = -7, -8
AAGUID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError(value)


def cbor(value: Any) -> bytes:
    """Canonical CBOR of ints, bytes, text, lists and maps: all that WebAuthn sends."""
    if isinstance(value, bool):
        return b"\xf5" if value else b"\xf4"
    if isinstance(value, int):
        return _head(0, value) if value >= 0 else _head(1, -1 - value)
    if isinstance(value, bytes):
        return _head(2, len(value)) + value
    if isinstance(value, str):
        data = value.encode()
        return _head(3, len(data)) + data
    if isinstance(value, list):
        return _head(4, len(value)) + b"".join(cbor(v) for v in value)
    if isinstance(value, dict):
        items = sorted((cbor(k), cbor(v)) for k, v in value.items())
        return _head(5, len(items)) + b"".join(k + v for k, v in items)
    raise TypeError(value)


_LONG_AGO = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
_FAR_AHEAD = dt.datetime(2099, 12, 31, tzinfo=dt.UTC)


class TestCA:
    """An attestation root, as a vendor of hardware keys has one, issuing attestation certificates."""

    __test__ = False  # not a test class, whatever pytest thinks of its name

    def __init__(self, name: str = "Test Attestation Root") -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self._ski = x509.SubjectKeyIdentifier.from_public_key(self.key.public_key())
        self.name = subject
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_LONG_AGO)
            .not_valid_after(_FAR_AHEAD)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .add_extension(self._ski, critical=False)
            .sign(self.key, hashes.SHA256())
        )

    @property
    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def attestation_cert(self, key: ec.EllipticCurvePrivateKey, aaguid: bytes) -> bytes:
        """A packed attestation certificate (WebAuthn section 8.2.1) for ``key``, in DER."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Test Keys"),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Authenticator Attestation"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Test Key Series 1"),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(_LONG_AGO)
            .not_valid_after(_FAR_AHEAD)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(self._ski), False)
            .add_extension(x509.UnrecognizedExtension(AAGUID_OID, b"\x04\x10" + aaguid), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        return cert.public_bytes(serialization.Encoding.DER)


@dataclass
class SoftAuthenticator:
    """One authenticator holding one passkey, and the browser that speaks for it.

    ``algorithm`` is ``ES256`` (P-256) or ``EdDSA`` (Ed25519). ``backup_eligible`` and
    ``backed_up`` are the BE and BS flags (a synced passkey sets both); ``counter_step`` is how
    much the signature counter grows per use (0: it keeps none, as synced passkeys do).
    ``attestation`` is ``none``, ``self`` or ``packed`` (then ``ca`` issues its certificate).
    """

    algorithm: int = ES256
    backup_eligible: bool = False
    backed_up: bool = False
    counter_step: int = 1
    attestation: str = "none"
    ca: TestCA | None = None
    aaguid: bytes = field(default_factory=lambda: os.urandom(16))
    transports: tuple[str, ...] = ("usb",)
    credential_id: bytes = field(default_factory=lambda: os.urandom(16))
    sign_count: int = 0
    user_handle: bytes | None = None

    def __post_init__(self) -> None:
        self.key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey = (
            ed25519.Ed25519PrivateKey.generate()
            if self.algorithm == EDDSA
            else ec.generate_private_key(ec.SECP256R1())
        )

    # -- the pieces ------------------------------------------------------------------------------

    def cose_key(self) -> bytes:
        public = self.key.public_key()
        if isinstance(public, ed25519.Ed25519PublicKey):
            raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            return cbor({1: 1, 3: EDDSA, -1: 6, -2: raw})
        numbers = public.public_numbers()
        return cbor(
            {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        )

    def sign(self, data: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(data)
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def _flags(self, *, up: bool, uv: bool, extra: int = 0) -> int:
        flags = extra | (UP if up else 0) | (UV if uv else 0)
        return flags | (BE if self.backup_eligible else 0) | (BS if self.backed_up else 0)

    @staticmethod
    def client_data(kind: str, challenge: str, origin: str, **more: Any) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False, **more}
        ).encode()

    # -- the two ceremonies ----------------------------------------------------------------------

    def create(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        up: bool = True,
        bad_attestation_signature: bool = False,
    ) -> str:
        """``navigator.credentials.create(options)``, serialized as ``JSON.stringify`` would."""
        options = json.loads(options_json)
        self.user_handle = unb64url(options["user"]["id"])
        rp_hash = hashlib.sha256((rp_id or options["rp"]["id"]).encode()).digest()
        attested = (
            self.aaguid + struct.pack(">H", len(self.credential_id)) + self.credential_id + self.cose_key()
        )
        self.sign_count += self.counter_step
        auth_data = (
            rp_hash + struct.pack(">BI", self._flags(up=up, uv=uv, extra=AT), self.sign_count) + attested
        )
        client_data = self.client_data("webauthn.create", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        statement: dict[str, Any] = {}
        if self.attestation == "self":
            statement = {"alg": self.algorithm, "sig": self.sign(signed)}
        elif self.attestation == "packed":
            assert self.ca is not None
            attestation_key = ec.generate_private_key(ec.SECP256R1())
            signature = attestation_key.sign(signed, ec.ECDSA(hashes.SHA256()))
            statement = {
                "alg": ES256,
                "sig": signature,
                "x5c": [self.ca.attestation_cert(attestation_key, self.aaguid)],
            }
        if bad_attestation_signature:
            statement["sig"] = bytes(reversed(statement["sig"]))
        fmt = "none" if self.attestation == "none" else "packed"
        attestation_object = cbor({"fmt": fmt, "attStmt": statement, "authData": auth_data})
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation_object),
                    "transports": list(self.transports),
                },
            }
        )

    def get(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        uv: bool = True,
        up: bool = True,
        sign_count: int | None = None,
        user_handle: bytes | None = None,
        flip_signature: bool = False,
        flags_after_signing: int | None = None,
    ) -> str:
        """``navigator.credentials.get(options)``, serialized as ``JSON.stringify`` would.

        ``sign_count`` sets the counter outright (a clone that lags behind the original);
        ``flip_signature`` damages the signature; ``flags_after_signing`` rewrites the flags
        once the signature is made (someone editing the response in transit)."""
        options = json.loads(options_json)
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        self.sign_count = self.sign_count + self.counter_step if sign_count is None else sign_count
        auth_data = rp_hash + struct.pack(">BI", self._flags(up=up, uv=uv), self.sign_count)
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = self.sign(auth_data + hashlib.sha256(client_data).digest())
        if flip_signature:
            signature = signature[:-1] + bytes([signature[-1] ^ 0x01])
        if flags_after_signing is not None:
            auth_data = auth_data[:32] + bytes([flags_after_signing]) + auth_data[33:]
        handle = user_handle if user_handle is not None else self.user_handle
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "clientExtensionResults": {},
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(handle) if handle is not None else None,
                },
            }
        )
