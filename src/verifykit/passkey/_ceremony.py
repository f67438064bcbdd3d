"""The checks of the two WebAuthn ceremonies (Level 3, sections 7.1 and 7.2): pure functions from a
shaped response and the relying party's settings to a reason.

fido2 (Yubico's python-fido2) reads authenticator data and COSE keys, verifies signatures and
attestation statements of every standard format; the rules of the ceremony (which origin, which
rp id, which flags, the counter) are written out here so that each refusal has a reason of its own
instead of an exception's message. The challenge is not checked here: the flows spend it on the
shared store, atomically, before these checks run.

An assertion's signature is checked first, before any fact it covers is read: a refusal for a
wrong origin or a counter that went back (which is audited as a cloned authenticator) is then a
fact the authenticator signed, never something anyone could write into a response.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import fido2.attestation  # noqa: F401 - imports every attestation format, so for_type finds it
from cryptography import x509
from cryptography.exceptions import InvalidSignature as _BadSignature
from cryptography.x509 import verification
from fido2 import cbor
from fido2.attestation.base import Attestation as AttestationFormat
from fido2.attestation.base import AttestationType, InvalidAttestation, InvalidSignature
from fido2.cose import CoseKey
from fido2.webauthn import AuthenticatorData

from .._verdict import Reason
from ._credential import PasskeyCredential
from ._response import Assertion, Attestation, ClientData
from ._settings import PasskeySettings

__all__ = ["Outcome", "check_assertion", "check_registration"]

_CREATE = "webauthn.create"
_GET = "webauthn.get"
# Attestation types whose trust path names a certificate chain worth checking against roots.
_CHAINED = frozenset({AttestationType.BASIC, AttestationType.ATT_CA, AttestationType.ANON_CA})
# What fido2 raises for bytes that walked as CBOR but are not the structure it expects.
_SHAPE_ERRORS = (ValueError, KeyError, TypeError, IndexError, NotImplementedError)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a ceremony's checks found: a reason, the credential (new or after use) on approval,
    and details for the verdict and the audit record (no secrets: ids, counts and flags)."""

    reason: Reason
    credential: PasskeyCredential | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.reason is Reason.APPROVED


def _client_data(client_data: ClientData, expected: str, settings: PasskeySettings) -> Reason | None:
    if client_data.type != expected:
        return Reason.MALFORMED  # a response from the other ceremony
    if client_data.cross_origin or client_data.origin not in settings.origins:
        return Reason.WRONG_ORIGIN
    return None


def _authenticator_data(auth_data: AuthenticatorData, settings: PasskeySettings) -> Reason | None:
    expected = hashlib.sha256(settings.rp_id.encode("ascii")).digest()
    if not hmac.compare_digest(auth_data.rp_id_hash, expected):
        return Reason.WRONG_RP_ID
    if not auth_data.is_user_present():
        return Reason.USER_NOT_VERIFIED  # not even a touch
    if settings.requires_user_verification and not auth_data.is_user_verified():
        return Reason.USER_NOT_VERIFIED
    if auth_data.is_backed_up() and not auth_data.is_backup_eligible():
        return Reason.MALFORMED  # backed up yet not eligible for it: no authenticator says so
    return None


def _usable(key: CoseKey) -> bool:
    """Whether ``key`` can verify at all: a point off the curve or a short key fails now, at
    registration, not at the first sign-in."""
    try:
        key.verify(b"verifykit: can this key verify?", b"")
    except _BadSignature:
        return True
    except _SHAPE_ERRORS:
        return False
    return False  # an empty signature verified: not a key to trust


def _chains_to(trust_path: Sequence[bytes], roots: Sequence[x509.Certificate], now: float) -> bool:
    """Whether the attestation certificate chains to one of ``roots`` at ``now`` (RFC 5280 path
    validation, by cryptography: signatures, validity, CA constraints)."""
    if not roots or not trust_path:
        return False
    try:
        leaf, *intermediates = (x509.load_der_x509_certificate(der) for der in trust_path)
        verifier = (
            verification.PolicyBuilder()
            .store(verification.Store(list(roots)))
            .time(dt.datetime.fromtimestamp(now, dt.UTC))
            .extension_policies(
                ca_policy=verification.ExtensionPolicy.webpki_defaults_ca(),
                # Attestation certificates carry no names or key usages a web PKI leaf would.
                ee_policy=verification.ExtensionPolicy.permit_all(),
            )
            .build_client_verifier()
        )
        verifier.verify(leaf, intermediates)
    except (verification.VerificationError, ValueError, TypeError):
        return False
    return True


def check_registration(  # noqa: PLR0911 - one return per refusal, in the specification's order
    response: Attestation, settings: PasskeySettings, *, now: float, roots: Sequence[x509.Certificate]
) -> Outcome:
    """Registration (section 7.1, from step 7; the challenge was spent already)."""
    refused = _client_data(response.client_data, _CREATE, settings)
    if refused is not None:
        return Outcome(refused)
    try:
        auth_data = AuthenticatorData(response.auth_data)
    except _SHAPE_ERRORS:
        return Outcome(Reason.MALFORMED)
    refused = _authenticator_data(auth_data, settings)
    credential_data = auth_data.credential_data
    if refused is not None or credential_data is None:
        return Outcome(refused or Reason.MALFORMED)
    if not hmac.compare_digest(credential_data.credential_id, response.raw_id):
        return Outcome(Reason.MALFORMED)
    key = credential_data.public_key
    if key.ALGORITHM not in settings.algorithms or not _usable(key):
        return Outcome(Reason.MALFORMED, details={"algorithm": str(key.ALGORITHM)})
    try:
        result = AttestationFormat.for_type(response.fmt)().verify(
            response.statement, auth_data, response.client_data.hash
        )
    except InvalidSignature:
        return Outcome(Reason.BAD_SIGNATURE, details={"attestation_format": response.fmt})
    except (InvalidAttestation, *_SHAPE_ERRORS):
        return Outcome(Reason.MALFORMED, details={"attestation_format": response.fmt})
    trusted = result.attestation_type in _CHAINED and _chains_to(result.trust_path, roots, now)
    credential = PasskeyCredential(
        credential_id=credential_data.credential_id,
        public_key=cbor.encode(dict(key)),
        algorithm=key.ALGORITHM,
        sign_count=auth_data.counter,
        backup_eligible=auth_data.is_backup_eligible(),
        backed_up=auth_data.is_backed_up(),
        aaguid=str(credential_data.aaguid),
        attestation_format=response.fmt,
        trusted_attestation=trusted,
        user_verified=auth_data.is_user_verified(),
        transports=response.transports,
        created_at=now,
    )
    return Outcome(Reason.APPROVED, credential, _facts(credential))


def _facts(credential: PasskeyCredential) -> dict[str, str]:
    return {
        "credential_id": credential.id,
        "backup_eligible": str(credential.backup_eligible).lower(),
        "backed_up": str(credential.backed_up).lower(),
        "trusted_attestation": str(credential.trusted_attestation).lower(),
    }


def check_assertion(  # noqa: PLR0911 - one return per refusal, in the specification's order
    response: Assertion,
    credentials: Sequence[PasskeyCredential],
    settings: PasskeySettings,
    *,
    user_handle: bytes,
) -> Outcome:
    """Authentication (section 7.2, from step 5; the challenge was spent already)."""
    credential = next((c for c in credentials if hmac.compare_digest(c.credential_id, response.raw_id)), None)
    if credential is None:
        return Outcome(Reason.UNKNOWN_CREDENTIAL)
    details = {"credential_id": credential.id}
    if response.user_handle is not None and not hmac.compare_digest(response.user_handle, user_handle):
        return Outcome(Reason.UNKNOWN_CREDENTIAL, details=details)  # another account's passkey
    try:
        cose = cbor.decode(credential.public_key)
        if not isinstance(cose, dict):
            raise TypeError("a stored public key is not a COSE map")
        key = CoseKey.parse(cose)
        key.verify(response.authenticator_data + response.client_data.hash, response.signature)
    except (_BadSignature, *_SHAPE_ERRORS):
        return Outcome(Reason.BAD_SIGNATURE, details=details)
    refused = _client_data(response.client_data, _GET, settings)
    if refused is not None:
        return Outcome(refused, details=details)
    try:
        auth_data = AuthenticatorData(response.authenticator_data)
    except _SHAPE_ERRORS:
        return Outcome(Reason.MALFORMED, details=details)
    refused = _authenticator_data(auth_data, settings)
    if refused is not None:
        return Outcome(refused, details=details)
    if auth_data.is_backup_eligible() != credential.backup_eligible:
        return Outcome(Reason.MALFORMED, details=details)  # eligibility is fixed for a credential's life
    stored, signed = credential.sign_count, auth_data.counter
    if (stored or signed) and signed <= stored:
        return Outcome(
            Reason.CLONED_AUTHENTICATOR,
            details={**details, "stored_sign_count": str(stored), "signed_sign_count": str(signed)},
        )
    used = credential.used(sign_count=signed, backed_up=auth_data.is_backed_up())
    return Outcome(
        Reason.APPROVED,
        used,
        {
            **details,
            "user_verified": str(auth_data.is_user_verified()).lower(),
            "backed_up": str(used.backed_up).lower(),
        },
    )
