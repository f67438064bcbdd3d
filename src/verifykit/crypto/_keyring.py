"""Server keys with ids: the newest key seals and digests, older keys still open and verify.

Every use derives its own purpose key with HKDF, so one leaked digest key never opens
a sealed template, and a key can be rotated without invalidating what is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
import threading
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .._errors import ConfigurationError, KeyringError

__all__ = ["Keyring"]

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ConfigurationError("a keyring key is not valid base64") from exc


class Keyring:
    """A set of 32-byte master keys by id, one of them current.

    ``Keyring.generate()`` is for tests and demos only: its key lives in memory, so
    anything it sealed is lost when the process ends. Production loads keys with
    :meth:`from_string` (``"kid1:base64,kid2:base64"``, newest last) or :meth:`from_env`.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str | None = None) -> None:
        if not keys:
            raise ConfigurationError("a keyring needs at least one key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise ConfigurationError(f"key id {kid!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
            if len(key) < 32:
                raise ConfigurationError(f"key {kid!r} must be at least 32 bytes")
        self._keys = dict(keys)
        self._current = current if current is not None else list(keys)[-1]
        if self._current not in self._keys:
            raise ConfigurationError(f"current key id {self._current!r} is not in the keyring")
        self._derived: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def generate(cls, kid: str = "k1") -> Keyring:
        """A fresh random keyring (tests and demos only: nothing sealed survives a restart)."""
        return cls({kid: secrets.token_bytes(32)})

    @classmethod
    def from_string(cls, text: str) -> Keyring:
        """Parse ``"kid:base64url,kid:base64url"``; the last key is the current one."""
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            if not sep:
                raise ConfigurationError("keyring entries look like 'kid:base64url-key'")
            keys[kid] = _b64decode(b64)
        return cls(keys)

    @classmethod
    def from_env(cls, name: str = "VERIFYKIT_KEYS") -> Keyring:
        text = os.environ.get(name)
        if not text:
            raise ConfigurationError(f"set {name} to 'kid:base64url-key' (32 random bytes)")
        return cls.from_string(text)

    @staticmethod
    def new_key_string(kid: str) -> str:
        """A new ``kid:base64url`` entry to append to a keyring string."""
        return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def _purpose_key(self, kid: str, purpose: str) -> bytes:
        cache_key = (kid, purpose)
        derived = self._derived.get(cache_key)
        if derived is None:
            try:
                master = self._keys[kid]
            except KeyError:
                raise KeyringError(f"unknown key id {kid!r}") from None
            derived = HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"verifykit/" + purpose.encode()
            ).derive(master)
            with self._lock:
                self._derived[cache_key] = derived
        return derived

    def purpose_key_for_tags(self) -> bytes:
        """The key for stable identifiers (subject tags): derived from the oldest key, so that
        rotating in a new key does not move every subject's counters to new store keys."""
        return self._purpose_key(next(iter(self._keys)), "subject-tag")

    # -- digests ---------------------------------------------------------------------------------

    def digest(self, purpose: str, data: bytes, kid: str | None = None) -> str:
        """HMAC-SHA256 of ``data`` under the purpose key, as ``"kid:hex"``."""
        kid = self._current if kid is None else kid
        mac = hmac.new(self._purpose_key(kid, purpose), data, hashlib.sha256).hexdigest()
        return f"{kid}:{mac}"

    def digests(self, purpose: str, data: bytes) -> list[str]:
        """The digest under every key, so a value stored before a rotation still matches."""
        return [self.digest(purpose, data, kid) for kid in self._keys]

    def verify_digest(self, purpose: str, data: bytes, stored: str) -> bool:
        """Constant-time check of ``data`` against a stored ``"kid:hex"`` digest."""
        kid, _, _ = stored.partition(":")
        if kid not in self._keys:
            return False
        return hmac.compare_digest(self.digest(purpose, data, kid), stored)

    # -- sealing ---------------------------------------------------------------------------------

    def seal(self, purpose: str, plaintext: bytes, aad: bytes = b"") -> bytes:
        """AES-256-GCM under the current purpose key; ``aad`` binds the blob to its context."""
        kid = self._current.encode()
        nonce = os.urandom(_NONCE_BYTES)
        header = _SEAL_VERSION + bytes([len(kid)]) + kid
        ct = AESGCM(self._purpose_key(self._current, purpose)).encrypt(nonce, plaintext, header + aad)
        return header + nonce + ct

    def open(self, purpose: str, blob: bytes, aad: bytes = b"") -> bytes:
        """Open a sealed blob; raise :class:`KeyringError` if it was tampered with or bound elsewhere."""
        if len(blob) < 2 or blob[:1] != _SEAL_VERSION:
            raise KeyringError("not a sealed verifykit blob")
        kid_len = blob[1]
        header_end = 2 + kid_len
        if len(blob) < header_end + _NONCE_BYTES + 16:
            raise KeyringError("sealed blob is truncated")
        kid = blob[2:header_end].decode("ascii", "replace")
        nonce = blob[header_end : header_end + _NONCE_BYTES]
        try:
            return AESGCM(self._purpose_key(kid, purpose)).decrypt(
                nonce, blob[header_end + _NONCE_BYTES :], blob[:header_end] + aad
            )
        except InvalidTag:
            raise KeyringError("sealed blob failed authentication") from None

    @staticmethod
    def sealed_key_id(blob: bytes) -> str:
        """The id of the key that sealed ``blob`` (to find what needs re-sealing after a rotation)."""
        if len(blob) < 2 or blob[:1] != _SEAL_VERSION:
            raise KeyringError("not a sealed verifykit blob")
        return blob[2 : 2 + blob[1]].decode("ascii", "replace")

    def __repr__(self) -> str:
        return f"Keyring(key_ids={list(self._keys)!r}, current={self._current!r})"
