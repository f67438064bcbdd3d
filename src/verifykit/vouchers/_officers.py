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

A key is admitted only when it is a sound Ed25519 key (canonical and not of small order, see
``_ed25519``) and, through :meth:`OfficerRegistry.add_proven`, only with a **proof of possession**:
the officer's signature, made with the private key, over a purpose string, this registry's random
id and the public key itself. So no one registers a key they do not hold (someone else's, or a
weak point with no private key at all), and a proof made for one registry is worthless in another.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import secrets
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

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .._errors import ConfigurationError, InvalidInput
from ._b64 import b64url_decode, b64url_encode
from ._ed25519 import KeyWeakness, public_key_weakness

__all__ = [
    "KEY_ID_BYTES",
    "Officer",
    "OfficerRegistry",
    "OfficerSource",
    "OfficerState",
    "RegistryFile",
    "check_public_key",
    "generate_officer_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "new_registry_id",
    "possession_proof",
    "private_key_pem",
    "public_key_pem",
    "raw_public_key",
    "verify_possession",
]

#: Bytes of SHA-256 kept in a key id: 128 bits, so no one can make a key whose id matches another's.
KEY_ID_BYTES = 16
_FORMAT = "verifykit-officers"
_VERSION = 1
_MAX_NAME = 128
_RAW_KEY = 32
_REGISTRY_ID = re.compile(r"[0-9a-f]{32}")
#: What an officer signs to prove they hold a key: never a prefix of a voucher's signed message.
_PROOF_CONTEXT = b"verifykit officer proof of possession v1\x00"
_PROOF_VERSION = 1
_PROOF_BYTES = 1 + 16 + KEY_ID_BYTES + 64
_WEAKNESS = {
    KeyWeakness.LENGTH: "is not 32 bytes",
    KeyWeakness.NON_CANONICAL: "is not the canonical encoding of an Ed25519 point",
    KeyWeakness.NOT_A_POINT: "is not a point of the Ed25519 curve",
    KeyWeakness.SMALL_ORDER: "is a small-order point, under which anyone can forge signatures",
}


class OfficerState(StrEnum):
    """``active`` officers may sign; ``revoked`` is final (a revoked key never signs again)."""

    ACTIVE = "active"
    REVOKED = "revoked"


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_public_key(raw: bytes) -> bytes:
    """``raw`` if it is a sound Ed25519 public key; :class:`InvalidInput` for a non-canonical
    encoding, a non-point or a point of small order (see ``_ed25519`` for why they are refused)."""
    weakness = public_key_weakness(raw)
    if weakness is not None:
        raise InvalidInput(
            f"the officer public key {_WEAKNESS[weakness]}; "
            "make a new key pair with 'verifykit officer keygen'",
            field="public_key",
        )
    return raw


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
    check_public_key(raw_public_key(key))
    return key


def new_registry_id() -> str:
    """A fresh registry id: 16 random bytes in hex, the deployment a proof of possession is for."""
    return secrets.token_hex(16)


def _check_registry_id(registry_id: object) -> str:
    if not isinstance(registry_id, str) or not _REGISTRY_ID.fullmatch(registry_id):
        raise InvalidInput("a registry id is 32 lowercase hex digits", field="registry_id")
    return registry_id


def _proof_message(registry_id: str, raw: bytes) -> bytes:
    return _PROOF_CONTEXT + bytes.fromhex(registry_id) + raw


def possession_proof(key: Ed25519PrivateKey, *, registry_id: str) -> str:
    """The officer's proof that they hold ``key``, for the registry with id ``registry_id``.

    base64url of: version (1), the registry id (16 bytes), the key id (16 bytes) and the Ed25519
    signature over ``"verifykit officer proof of possession v1" 0x00 || registry id || public key``.
    Not secret, and useless for any other registry or key.
    """
    raw = check_public_key(raw_public_key(key.public_key()))
    registry = bytes.fromhex(_check_registry_id(registry_id))
    signature = key.sign(_proof_message(registry_id, raw))
    return b64url_encode(bytes([_PROOF_VERSION]) + registry + bytes.fromhex(key_id(raw)) + signature)


def verify_possession(public_key: Ed25519PublicKey, proof: str, *, registry_id: str) -> None:
    """Return if ``proof`` shows that whoever made it holds the private half of ``public_key``, for
    the registry ``registry_id``; raise :class:`InvalidInput` (field ``proof``) saying why not."""
    raw = check_public_key(raw_public_key(public_key))
    _check_registry_id(registry_id)
    try:
        data = b64url_decode(proof.strip())
    except ValueError:
        data = b""
    if len(data) != _PROOF_BYTES or data[0] != _PROOF_VERSION:
        raise InvalidInput(
            "not a proof of possession (an officer makes one with 'verifykit officer prove')", field="proof"
        )
    made_for, made_by, signature = data[1:17].hex(), data[17:33].hex(), data[33:]
    if made_for != registry_id:
        raise InvalidInput(
            f"the proof of possession was made for registry {made_for}, not this one ({registry_id}): "
            f"the officer proves again with 'verifykit officer prove --registry-id {registry_id}'",
            field="proof",
        )
    if made_by != key_id(raw):
        raise InvalidInput(
            f"the proof of possession is for officer key {made_by}, not for this public key ({key_id(raw)})",
            field="proof",
        )
    try:
        public_key.verify(signature, _proof_message(registry_id, raw))
    except InvalidSignature:
        raise InvalidInput(
            "the proof of possession does not verify: it was not signed with this public key's private key",
            field="proof",
        ) from None


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

    def __post_init__(self) -> None:
        check_public_key(self.public_key)

    @property
    def active(self) -> bool:
        return self.state is OfficerState.ACTIVE

    def verifier(self) -> Ed25519PublicKey:
        """The key that checks this officer's signatures (checked again: it is what vouchers trust)."""
        return Ed25519PublicKey.from_public_bytes(check_public_key(self.public_key))

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
            raw = b64url_decode(doc["public_key"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"a malformed officer entry in the registry: {exc}") from None
        weakness = public_key_weakness(raw)
        if weakness is not None:
            # A revoked entry is refused too: the registry is never a place for such a key.
            raise ConfigurationError(
                f"officer {doc.get('key_id')!r} in the registry: the public key {_WEAKNESS[weakness]}; "
                "remove the entry (the officer makes a new key pair, and is added with a proof of possession)"
            )
        try:
            officer = cls(
                key_id=str(doc["key_id"]),
                name=_check_name(doc["name"]),
                public_key=raw,
                state=OfficerState(doc["state"]),
                added_at=float(doc["added_at"]),
                revoked_at=None if doc.get("revoked_at") is None else float(doc["revoked_at"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigurationError(f"a malformed officer entry in the registry: {exc}") from None
        if officer.key_id != key_id(raw):
            raise ConfigurationError(f"officer {officer.key_id}: the key id does not match its public key")
        return officer


@dataclass(frozen=True, slots=True)
class OfficerRegistry:
    """An immutable set of officers by key id. Adding or revoking returns a new registry.

    ``registry_id`` names this registry (this deployment) in proofs of possession; a registry
    written before proofs existed has none until ``verifykit officer init`` gives it one.
    """

    officers: Mapping[str, Officer]
    registry_id: str | None = None

    @classmethod
    def empty(cls) -> OfficerRegistry:
        """A registry with no officers and a fresh random id."""
        return cls({}, new_registry_id())

    def with_registry_id(self) -> OfficerRegistry:
        """Itself if it has an id; else the same officers under a fresh random id."""
        return self if self.registry_id is not None else replace(self, registry_id=new_registry_id())

    def current(self) -> OfficerRegistry:
        """Itself: a registry is its own :class:`OfficerSource`."""
        return self

    def get(self, officer_key_id: str) -> Officer | None:
        return self.officers.get(officer_key_id)

    def __iter__(self) -> Iterator[Officer]:
        return iter(sorted(self.officers.values(), key=lambda o: (o.added_at, o.key_id)))

    def __len__(self) -> int:
        return len(self.officers)

    def add_proven(
        self, public_key: Ed25519PublicKey, name: str, proof: str, *, at: float | None = None
    ) -> OfficerRegistry:
        """Register ``public_key`` as :meth:`add` does, once ``proof`` shows its holder signed for
        this registry (:func:`possession_proof`); :class:`InvalidInput` (field ``proof``) if not.

        This is how a key that comes from elsewhere (a ``.pub`` file) is admitted:
        ``verifykit officer add`` goes through here.
        """
        if self.registry_id is None:
            raise ConfigurationError(
                "this officer registry has no registry id for proofs of possession; "
                "run 'verifykit officer init --registry PATH' once to give it one"
            )
        verify_possession(public_key, proof, registry_id=self.registry_id)
        return self.add(public_key, name, at=at)

    def add(self, public_key: Ed25519PublicKey, name: str, *, at: float | None = None) -> OfficerRegistry:
        """Register ``public_key`` as an active officer called ``name``, without a proof of
        possession: for a key whose private half this process holds (made here, or read from
        the officer's key file). A public key from anyone else goes through :meth:`add_proven`.

        :class:`InvalidInput` if the key is weak (non-canonical or of small order) or registered
        already (a revoked key stays revoked: the officer makes a new key pair).
        """
        name = _check_name(name)
        raw = check_public_key(raw_public_key(public_key))
        kid = key_id(raw)
        existing = self.officers.get(kid)
        if existing is not None:
            state = "revoked; make a new key pair" if not existing.active else "registered already"
            raise InvalidInput(f"officer key {kid} is {state}", field="public_key")
        officer = Officer(kid, name, raw, OfficerState.ACTIVE, time.time() if at is None else at)
        return replace(self, officers={**self.officers, kid: officer})

    def revoke(self, officer_key_id: str, *, at: float | None = None) -> OfficerRegistry:
        """Revoke the officer with key id ``officer_key_id`` (final); :class:`InvalidInput` if unknown."""
        officer = self.officers.get(officer_key_id)
        if officer is None:
            raise InvalidInput(f"no officer has key id {officer_key_id!r}", field="key_id")
        if not officer.active:
            return self
        revoked = replace(officer, state=OfficerState.REVOKED, revoked_at=time.time() if at is None else at)
        return replace(self, officers={**self.officers, officer_key_id: revoked})

    def look_alikes(self, name: str) -> list[Officer]:
        """Active officers whose name folds to the same letters as ``name``: worth a second look
        before registering another key (the same person twice would defeat four eyes)."""
        folded = _looks_alike(name)
        return [o for o in self if o.active and _looks_alike(o.name) == folded]

    def to_json(self) -> str:
        doc: dict[str, Any] = {"format": _FORMAT, "version": _VERSION}
        if self.registry_id is not None:
            doc["registry_id"] = self.registry_id
        doc["officers"] = [o.to_json() for o in self]
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
        registry_id = doc.get("registry_id")
        if registry_id is not None and not (
            isinstance(registry_id, str) and _REGISTRY_ID.fullmatch(registry_id)
        ):
            raise ConfigurationError("the officer registry's registry_id is not 32 lowercase hex digits")
        entries = doc.get("officers")
        if not isinstance(entries, list):
            raise ConfigurationError("the officer registry has no list of officers")
        officers: dict[str, Officer] = {}
        for entry in entries:
            officer = Officer.from_json(entry)
            if officer.key_id in officers:
                raise ConfigurationError(f"officer {officer.key_id} is listed twice")
            officers[officer.key_id] = officer
        return cls(officers, registry_id)


@runtime_checkable
class OfficerSource(Protocol):
    """Where a service reads its officers from: a :class:`OfficerRegistry` or a :class:`RegistryFile`."""

    def current(self) -> OfficerRegistry: ...


class RegistryFile:
    """The registry kept in a JSON file: read when first needed, and again whenever it changes.

    Whoever can change the file chooses the officers, so on POSIX systems it is read only when
    it is a regular file (not a symbolic link), owned by this process's user or root, and not
    writable by group or others, in a directory that is owned likewise and not writable by group
    or others either (who can write the directory can replace the file), as ssh insists for its
    keys. The checks are made on the open file and directory (``O_NOFOLLOW``, ``fstat``, the file
    opened relative to the directory checked), so the file cannot be swapped between check and
    read. A missing, unreadable, loose or malformed file raises :class:`ConfigurationError` (no
    redemption succeeds: fail closed); a valid change is picked up at the next :meth:`current`.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None
        self._registry = OfficerRegistry({})

    def __repr__(self) -> str:
        return f"RegistryFile({str(self.path)!r})"

    def _unreadable(self, exc: OSError) -> ConfigurationError:
        return ConfigurationError(f"cannot read the officer registry {self.path}: {exc.strerror}")

    def _check(self, st: os.stat_result, what: str, fix: str) -> None:
        owners = {os.geteuid(), 0}
        if st.st_uid not in owners:
            raise ConfigurationError(
                f"{what} is owned by uid {st.st_uid}, neither this process's user (uid {os.geteuid()}) "
                f"nor root, who could change the officers; chown it to one of them"
            )
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise ConfigurationError(
                f"{what} is writable by group or others, who could change the officers; {fix}"
            )

    def _open(self) -> tuple[int, os.stat_result]:
        """The registry file opened for reading, and its status, once both it and its directory pass."""
        if os.name != "posix":
            try:
                fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            except OSError as exc:
                raise self._unreadable(exc) from None
            return fd, os.fstat(fd)
        directory = self.path.parent
        try:
            dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as exc:
            raise self._unreadable(exc) from None
        try:
            self._check(
                os.fstat(dir_fd),
                f"the directory {directory} of the officer registry",
                f"chmod go-w {directory}",
            )
            try:
                # O_NONBLOCK: a FIFO put in the file's place must not hang the service in open().
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
                fd = os.open(self.path.name, flags, dir_fd=dir_fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(self.path):
                    raise ConfigurationError(
                        f"the officer registry {self.path} is a symbolic link, which whoever can change "
                        "the link could point at other officers; give the path of the file itself"
                    ) from None
                raise self._unreadable(exc) from None
        finally:
            os.close(dir_fd)
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise ConfigurationError(f"the officer registry {self.path} is not a regular file")
            self._check(st, f"the officer registry {self.path}", f"chmod go-w {self.path}")
        except BaseException:
            os.close(fd)
            raise
        return fd, st

    def current(self) -> OfficerRegistry:
        """The registry as the file says now (re-read only when its inode, size or mtime changed)."""
        with self._lock:
            fd, st = self._open()
            with os.fdopen(fd, "rb") as file:
                seen = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
                if seen != self._seen:
                    try:
                        text = file.read()
                    except OSError as exc:
                        raise self._unreadable(exc) from None
                    self._registry = OfficerRegistry.from_json(text)
                    self._seen = seen
            return self._registry

    def load(self, *, missing_ok: bool = False) -> OfficerRegistry:
        """The registry in the file; an empty one when it does not exist and ``missing_ok``."""
        if missing_ok and not os.path.lexists(self.path):  # a dangling link is not "missing"
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
