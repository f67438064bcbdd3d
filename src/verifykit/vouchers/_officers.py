"""Officers: the people allowed to sign counter vouchers, known by their Ed25519 public keys.

An officer's identity is the **key id** (the first 16 bytes of SHA-256 over the raw 32-byte public
key, in hex), never the display name: "alice", "alice " and "\u0430lice" (Cyrillic a) are three labels
that may or may not be three people, but two signatures are from two officers exactly when their
key ids differ.

The registry is a JSON file the operator manages (``verifykit officer add|revoke|list``) and
deploys read-only next to the service, not a record in the shared store: whoever can write to the
store (every sidecar, anyone holding its password) could otherwise register an officer and mint
unlocks. :class:`RegistryFile` re-reads the file when it changes, so a revocation takes effect
at the next redemption after the new file is in place.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tempfile
import threading
import time
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import ConfigurationError, InvalidInput
from ._b64 import b64url_decode, b64url_encode

__all__ = [
    "KEY_ID_BYTES",
    "Officer",
    "OfficerRegistry",
    "OfficerSource",
    "OfficerState",
    "RegistryFile",
    "generate_officer_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_pem",
    "raw_public_key",
]

#: Bytes of SHA-256 kept in a key id: 128 bits, so no one can make a key whose id matches another's.
KEY_ID_BYTES = 16
_FORMAT = "verifykit-officers"
_VERSION = 1
_MAX_NAME = 128
_RAW_KEY = 32


class OfficerState(StrEnum):
    """``active`` officers may sign; ``revoked`` is final (a revoked key never signs again)."""

    ACTIVE = "active"
    REVOKED = "revoked"


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public_key: Ed25519PublicKey | bytes) -> str:
    """The officer's identity: SHA-256 of the raw public key, first 16 bytes, lowercase hex."""
    raw = public_key if isinstance(public_key, bytes) else raw_public_key(public_key)
    if len(raw) != _RAW_KEY:
        raise InvalidInput("an Ed25519 public key is 32 bytes", field="public_key")
    return hashlib.sha256(raw).digest()[:KEY_ID_BYTES].hex()


def generate_officer_key() -> Ed25519PrivateKey:
    """A new officer key pair (keep the private half on the counter system, file mode 0600)."""
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    """The private key as unencrypted PKCS#8 PEM (protect the file, not the bytes)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_key_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM: what ``verifykit officer add`` takes."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(data: bytes) -> Ed25519PrivateKey:
    """An Ed25519 private key from PKCS#8 PEM; :class:`InvalidInput` for anything else."""
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("not an unencrypted PEM private key", field="key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("an officer key must be Ed25519", field="key")
    return key


def load_public_key(data: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM (SubjectPublicKeyInfo); :class:`InvalidInput` for anything else."""
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise InvalidInput("not a PEM public key", field="public_key") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("an officer key must be Ed25519", field="public_key")
    return key


def _check_name(name: object) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > _MAX_NAME:
        raise InvalidInput(f"an officer's display name is 1-{_MAX_NAME} characters", field="name")
    if any(unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidInput("an officer's display name must not contain control characters", field="name")
    return name


def _looks_alike(name: str) -> str:
    """A folding of a display name for *warning* about look-alikes; never used as identity."""
    return "".join(unicodedata.normalize("NFKC", name).casefold().split())


@dataclass(frozen=True, slots=True)
class Officer:
    """One registered officer. ``key_id`` is the identity; ``name`` is a label for people."""

    key_id: str
    name: str
    public_key: bytes
    state: OfficerState
    added_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.state is OfficerState.ACTIVE

    def verifier(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.public_key)

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "name": self.name,
            "public_key": b64url_encode(self.public_key),
            "state": self.state.value,
            "added_at": self.added_at,
            "revoked_at": self.revoked_at,
        }

    @classmethod
    def from_json(cls, doc: object) -> Officer:
        if not isinstance(doc, dict):
            raise ConfigurationError("an officer entry is an object")
        try:
            text = doc["public_key"]
            raw = b64url_decode(text)
            officer = cls(
                key_id=str(doc["key_id"]),
                name=_check_name(doc["name"]),
                public_key=raw,
                state=OfficerState(doc["state"]),
                added_at=float(doc["added_at"]),
                revoked_at=None if doc.get("revoked_at") is None else float(doc["revoked_at"]),
            )
            expected = key_id(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"a malformed officer entry in the registry: {exc}") from None
        if officer.key_id != expected:
            raise ConfigurationError(f"officer {officer.key_id}: the key id does not match its public key")
        return officer


@dataclass(frozen=True, slots=True)
class OfficerRegistry:
    """An immutable set of officers by key id. Adding or revoking returns a new registry."""

    officers: Mapping[str, Officer]

    @classmethod
    def empty(cls) -> OfficerRegistry:
        return cls({})

    def current(self) -> OfficerRegistry:
        """Itself: a registry is its own :class:`OfficerSource`."""
        return self

    def get(self, officer_key_id: str) -> Officer | None:
        return self.officers.get(officer_key_id)

    def __iter__(self) -> Iterator[Officer]:
        return iter(sorted(self.officers.values(), key=lambda o: (o.added_at, o.key_id)))

    def __len__(self) -> int:
        return len(self.officers)

    def add(self, public_key: Ed25519PublicKey, name: str, *, at: float | None = None) -> OfficerRegistry:
        """Register ``public_key`` as an active officer called ``name``.

        :class:`InvalidInput` if the key is registered already (a revoked key stays revoked:
        the officer makes a new key pair).
        """
        name = _check_name(name)
        raw = raw_public_key(public_key)
        kid = key_id(raw)
        existing = self.officers.get(kid)
        if existing is not None:
            state = "revoked; make a new key pair" if not existing.active else "registered already"
            raise InvalidInput(f"officer key {kid} is {state}", field="public_key")
        officer = Officer(kid, name, raw, OfficerState.ACTIVE, time.time() if at is None else at)
        return OfficerRegistry({**self.officers, kid: officer})

    def revoke(self, officer_key_id: str, *, at: float | None = None) -> OfficerRegistry:
        """Revoke the officer with key id ``officer_key_id`` (final); :class:`InvalidInput` if unknown."""
        officer = self.officers.get(officer_key_id)
        if officer is None:
            raise InvalidInput(f"no officer has key id {officer_key_id!r}", field="key_id")
        if not officer.active:
            return self
        revoked = replace(officer, state=OfficerState.REVOKED, revoked_at=time.time() if at is None else at)
        return OfficerRegistry({**self.officers, officer_key_id: revoked})

    def look_alikes(self, name: str) -> list[Officer]:
        """Active officers whose name folds to the same letters as ``name``: worth a second look
        before registering another key (the same person twice would defeat four eyes)."""
        folded = _looks_alike(name)
        return [o for o in self if o.active and _looks_alike(o.name) == folded]

    def to_json(self) -> str:
        doc = {"format": _FORMAT, "version": _VERSION, "officers": [o.to_json() for o in self]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str | bytes) -> OfficerRegistry:
        """Parse a registry file; :class:`ConfigurationError` for anything malformed."""
        try:
            doc = json.loads(text)
        except ValueError as exc:
            raise ConfigurationError(f"the officer registry is not JSON: {exc}") from None
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            raise ConfigurationError(f"not an officer registry (format must be {_FORMAT!r})")
        if doc.get("version") != _VERSION:
            raise ConfigurationError(f"officer registry version {doc.get('version')!r} is not supported")
        entries = doc.get("officers")
        if not isinstance(entries, list):
            raise ConfigurationError("the officer registry has no list of officers")
        officers: dict[str, Officer] = {}
        for entry in entries:
            officer = Officer.from_json(entry)
            if officer.key_id in officers:
                raise ConfigurationError(f"officer {officer.key_id} is listed twice")
            officers[officer.key_id] = officer
        return cls(officers)


@runtime_checkable
class OfficerSource(Protocol):
    """Where a service reads its officers from: a :class:`OfficerRegistry` or a :class:`RegistryFile`."""

    def current(self) -> OfficerRegistry: ...


class RegistryFile:
    """The registry kept in a JSON file: read when first needed, and again whenever it changes.

    The file must not be writable by group or others (as ssh insists for its keys): who can
    write it can register an officer. A missing, unreadable or malformed file raises
    :class:`ConfigurationError` (no redemption succeeds: fail closed); a valid change is picked
    up at the next :meth:`current`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None
        self._registry = OfficerRegistry.empty()

    def __repr__(self) -> str:
        return f"RegistryFile({str(self.path)!r})"

    def _stat(self) -> os.stat_result:
        try:
            st = self.path.stat()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read the officer registry {self.path}: {exc.strerror}"
            ) from None
        if os.name == "posix" and st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigurationError(
                f"the officer registry {self.path} is writable by group or others; chmod go-w it"
            )
        return st

    def current(self) -> OfficerRegistry:
        """The registry as the file says now (re-read only when its inode, size or mtime changed)."""
        with self._lock:
            st = self._stat()
            seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            if seen != self._seen:
                try:
                    text = self.path.read_bytes()
                except OSError as exc:
                    raise ConfigurationError(
                        f"cannot read the officer registry {self.path}: {exc.strerror}"
                    ) from None
                self._registry = OfficerRegistry.from_json(text)
                self._seen = seen
            return self._registry

    def load(self, *, missing_ok: bool = False) -> OfficerRegistry:
        """The registry in the file; an empty one when it does not exist and ``missing_ok``."""
        if missing_ok and not self.path.exists():
            return OfficerRegistry.empty()
        return self.current()

    def save(self, registry: OfficerRegistry) -> None:
        """Replace the file atomically (write a temporary file, then rename), mode 0644."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".officers-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(registry.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
