"""How passkeys behave for one relying party: one frozen value, validated once."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cryptography import x509

from .._errors import ConfigurationError
from ..store import LockoutPolicy, WindowPolicy

__all__ = ["ATTESTATION_PREFERENCES", "COSE_ALGORITHMS", "USER_VERIFICATION", "PasskeySettings"]

#: The COSE algorithms verifykit checks signatures of: EdDSA (Ed25519), ES256 (P-256), RS256.
COSE_ALGORITHMS: dict[int, str] = {-8: "EdDSA", -7: "ES256", -257: "RS256"}
USER_VERIFICATION = ("required", "preferred", "discouraged")
ATTESTATION_PREFERENCES = ("none", "indirect", "direct", "enterprise")

_MAX_NAME = 256
_MAX_ORIGINS = 16
_MAX_ROOTS = 64
# A registrable domain name as WebAuthn takes it: lowercase labels, no scheme, port or trailing dot.
_RP_ID = re.compile(
    r"(?=.{1,253}\Z)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _subject_lockout() -> LockoutPolicy:
    """As for the other ways in: from the 10th consecutive failure a wait of 60 s, doubling up to an
    hour; 100 lock the subject until another way in succeeds (NIST SP 800-63B-4 section 3.2.2)."""
    return LockoutPolicy(threshold=10, lockout=60, lockout_max=3600, hard_cap=100)


def _failed_checks_per_client() -> WindowPolicy:
    """100 failed checks per client address per 10 minutes, across subjects."""
    return WindowPolicy(limit=100, window=600)


def _options_per_client() -> WindowPolicy:
    """60 ceremonies started per client address per 10 minutes: each one keeps a challenge on the
    store for its lifetime, so starting them must not be free."""
    return WindowPolicy(limit=60, window=600)


def _check_origin(origin: object, rp_id: str) -> None:
    """An origin is exactly what a browser puts in clientDataJSON: scheme, host and any port."""
    if not isinstance(origin, str) or not origin:
        raise ConfigurationError("each passkey origin is a non-empty string such as 'https://example.com'")
    if origin.startswith("android:apk-key-hash:"):
        return  # an Android app's origin: compared exactly, like any other
    parts = urlsplit(origin)
    if parts.path or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(f"passkey origin {origin!r} must be scheme://host[:port], nothing after it")
    host = parts.hostname or ""
    loopback = parts.netloc.rsplit(":", 1)[0] in _LOOPBACK if parts.port else parts.netloc in _LOOPBACK
    if parts.scheme != "https" and not (parts.scheme == "http" and loopback):
        raise ConfigurationError(f"passkey origin {origin!r} must use https (http only for localhost)")
    if host != rp_id and not host.endswith("." + rp_id):
        raise ConfigurationError(
            f"passkey origin {origin!r} is not {rp_id} or below it; browsers refuse such an rp_id"
        )


def _load_root(data: object) -> x509.Certificate:
    if not isinstance(data, bytes):
        raise ConfigurationError("each attestation root is a certificate's PEM or DER bytes")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise ConfigurationError(f"an attestation root is not a certificate: {exc}") from None


def _check_name(value: object, name: str) -> None:
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME:
        raise ConfigurationError(f"{name} must be 1-{_MAX_NAME} characters")
    if any(unicodedata.category(ch).startswith("C") for ch in value):
        raise ConfigurationError(f"{name} must not contain control characters")


@dataclass(frozen=True, slots=True)
class PasskeySettings:
    """How passkeys (WebAuthn) behave for one relying party.

    - ``rp_id``: the domain passkeys are bound to (``example.com``); an authenticator signs its
      hash, so a passkey made for one rp_id never answers for another.
    - ``rp_name``: the name the browser shows while making a passkey.
    - ``origins``: every origin allowed to run a ceremony, compared exactly (scheme, host, port):
      ``("https://example.com", "https://login.example.com")``. Each must be ``rp_id`` or below it.
    - ``challenge_ttl=120``: a challenge answers once, within two minutes; ``timeout=120`` is how
      long the browser waits for the person (never longer than the challenge lives).
    - ``user_verification="required"``: the authenticator must check a PIN or biometric, which
      makes a passkey a multi-factor authenticator (AAL2 on its own); ``preferred`` or
      ``discouraged`` accept presence alone.
    - ``attestation="none"``: ask for no attestation, which keeps the authenticator's make out of
      reach (privacy). Ask ``direct`` and give ``attestation_roots`` (PEM or DER certificates of
      the vendors' roots the operator trusts) to recognise device-bound hardware keys for AAL3;
      an attestation that chains to none of them is accepted, as untrusted (AAL2).
    - ``algorithms``: the COSE algorithms offered, most preferred first (:data:`COSE_ALGORITHMS`).
    - ``lockout``: a failed check is charged to the subject's one failure budget, as for every
      other way in (NIST SP 800-63B-4: at most 100 consecutive failures).
    - ``client_limit``: 100 failed checks per client address per 10 minutes (``None``: none).
    - ``options_limit``: 60 ceremonies started per client address per 10 minutes (``None``: none).
    - ``retention``: how long a used or expired challenge stays readable, so that a second use
      reads as ``replayed`` or ``expired`` rather than ``not_found``.
    """

    rp_id: str
    rp_name: str
    origins: tuple[str, ...]
    challenge_ttl: float = 120.0
    timeout: float = 120.0
    user_verification: str = "required"
    attestation: str = "none"
    algorithms: tuple[int, ...] = (-8, -7, -257)
    attestation_roots: tuple[bytes, ...] = field(default=(), repr=False)
    lockout: LockoutPolicy = field(default_factory=_subject_lockout)
    client_limit: WindowPolicy | None = field(default_factory=_failed_checks_per_client)
    options_limit: WindowPolicy | None = field(default_factory=_options_per_client)
    retention: float = 600.0

    def __post_init__(self) -> None:
        if not isinstance(self.rp_id, str) or not _RP_ID.fullmatch(self.rp_id):
            raise ConfigurationError(
                "rp_id is a lowercase domain name such as 'example.com' (no scheme or port)"
            )
        _check_name(self.rp_name, "rp_name")
        if not isinstance(self.origins, tuple) or not 1 <= len(self.origins) <= _MAX_ORIGINS:
            raise ConfigurationError(f"origins is a tuple of 1-{_MAX_ORIGINS} origins")
        for origin in self.origins:
            _check_origin(origin, self.rp_id)
        if not 10 <= self.challenge_ttl <= 600:
            raise ConfigurationError("challenge_ttl must be between 10 and 600 seconds")
        if not 10 <= self.timeout <= self.challenge_ttl:
            raise ConfigurationError("timeout must be at least 10 seconds and at most challenge_ttl")
        if self.user_verification not in USER_VERIFICATION:
            raise ConfigurationError(f"user_verification must be one of {', '.join(USER_VERIFICATION)}")
        if self.attestation not in ATTESTATION_PREFERENCES:
            raise ConfigurationError(f"attestation must be one of {', '.join(ATTESTATION_PREFERENCES)}")
        algorithms = self.algorithms
        if not isinstance(algorithms, tuple) or not algorithms or len(set(algorithms)) != len(algorithms):
            raise ConfigurationError("algorithms is a non-empty tuple of distinct COSE algorithm ids")
        if any(alg not in COSE_ALGORITHMS for alg in algorithms):
            raise ConfigurationError(f"algorithms must be among {sorted(COSE_ALGORITHMS)} (COSE ids)")
        if not isinstance(self.attestation_roots, tuple) or len(self.attestation_roots) > _MAX_ROOTS:
            raise ConfigurationError(f"attestation_roots is a tuple of at most {_MAX_ROOTS} certificates")
        for root in self.attestation_roots:
            _load_root(root)
        if not 0 <= self.retention <= 86400:
            raise ConfigurationError("retention must be between 0 and 86400 seconds")

    @property
    def requires_user_verification(self) -> bool:
        return self.user_verification == "required"

    def roots(self) -> tuple[x509.Certificate, ...]:
        """The trusted attestation roots, parsed."""
        return tuple(_load_root(root) for root in self.attestation_roots)
