"""Checkpoint signing keys: Ed25519 (``cryptography``), PEM files, a short key id.

The private key signs checkpoints and lives only with the writers (a file readable by the
sidecar's user alone); the public key verifies and can be handed to anyone who audits.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import ConfigurationError

__all__ = ["key_id", "load_private_key", "load_public_key", "parse_private_key", "write_key_pair"]

_PRIVATE_MODE = 0o600


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: names the key in checkpoints."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def parse_private_key(text: str) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key, or the base64 of its 32 raw bytes (for a variable)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ConfigurationError("the audit signing key is not a readable PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ConfigurationError("the audit signing key must be an Ed25519 key")
        return key
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigurationError("the audit signing key is neither PEM nor base64") from None
    if len(raw) != 32:
        raise ConfigurationError("a base64 audit signing key must hold 32 bytes")
    return Ed25519PrivateKey.from_private_bytes(raw)


def _read(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not text"
        raise ConfigurationError(f"cannot read the {what} {path}: {reason}") from exc


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """Read a private key file written by :func:`write_key_pair` (or any PEM Ed25519 key)."""
    return parse_private_key(_read(path, "audit signing key"))


def load_public_key(path: Path) -> Ed25519PublicKey:
    """Read a PEM public key file (``verifykit audit keygen`` writes one)."""
    try:
        key = serialization.load_pem_public_key(_read(path, "audit public key").encode("ascii"))
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(f"{path} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ConfigurationError(f"{path} is not an Ed25519 public key")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> str:
    """Make a new key pair; the private file is created 0600 and never overwritten. Returns the key id."""
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        # O_EXCL: an existing key is never replaced (its checkpoints would no longer verify).
        fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_MODE)
    except OSError as exc:
        raise ConfigurationError(f"cannot create {private_path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as file:
        file.write(private_pem)
    try:
        public_path.write_bytes(public_pem)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {public_path}: {exc.strerror}") from exc
    return key_id(key.public_key())
