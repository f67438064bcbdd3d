"""Server keys with ids: the newest key seals and digests, older keys still open and verify.

Every use derives its own purpose key with HKDF, so one leaked digest key never opens
a sealed template, and a key can be rotated without invalidating what is stored.

Subject tags (the names of every lockout, limit window and replay marker in the store) come
from a separate *tag key*. Rotating or retiring a sealing key, even in a hurry after a leak,
therefore never moves a subject's counters; changing the tag key is a deliberate act of its own.
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

TAG_ENTRY = "tag"
"""The reserved id of the tag key's entry in a keyring string (``tag:base64url``)."""

_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
_SEAL_VERSION = b"\x01"
_NONCE_BYTES = 12
_MIN_KEY_BYTES = 32
_TAG_PURPOSE = "subject-tag"


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.urlsafe_b64decode(padded.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise ConfigurationError("a keyring key is not valid base64") from exc


def _hkdf(master: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"verifykit/" + purpose.encode()
    ).derive(master)


class Keyring:
    """A set of 32-byte master keys by id, one of them current, and one tag key.

    ``Keyring.generate()`` is for tests and demos only: its keys live in memory, so
    anything it sealed is lost when the process ends. Production loads keys with
    :meth:`from_string` (``"tag:base64,kid1:base64,kid2:base64"``, sealing keys newest last)
    or :meth:`from_env`; :meth:`new_keyring_string` makes a first one.

    ``tag_key`` keys the subject tags and nothing else. It is required, never taken from a
    sealing key implicitly, so that no rotation of sealing keys can reset lockouts by accident.
    """

    def __init__(self, keys: Mapping[str, bytes], current: str | None = None, *, tag_key: bytes) -> None:
        if not keys:
            raise ConfigurationError("a keyring needs at least one key")
        for kid, key in keys.items():
            if not _KID.match(kid):
                raise ConfigurationError(f"key id {kid!r} must be 1-32 characters of A-Z a-z 0-9 _ -")
            if kid == TAG_ENTRY:
                raise ConfigurationError(f"key id {TAG_ENTRY!r} is reserved for the tag key")
            if len(key) < _MIN_KEY_BYTES:
                raise ConfigurationError(f"key {kid!r} must be at least {_MIN_KEY_BYTES} bytes")
        if not isinstance(tag_key, bytes) or len(tag_key) < _MIN_KEY_BYTES:
            raise ConfigurationError(f"the tag key must be at least {_MIN_KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._current = current if current is not None else list(keys)[-1]
        if self._current not in self._keys:
            raise ConfigurationError(f"current key id {self._current!r} is not in the keyring")
        self._tag_key = _hkdf(tag_key, _TAG_PURPOSE)
        self._derived: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()

    @classmethod
    def generate(cls, kid: str = "k1") -> Keyring:
        """A fresh random keyring (tests and demos only: nothing sealed survives a restart)."""
        return cls({kid: secrets.token_bytes(32)}, tag_key=secrets.token_bytes(32))

    @classmethod
    def from_string(cls, text: str) -> Keyring:
        """Parse ``"tag:base64url,kid:base64url,kid:base64url"``; the last sealing key is current.

        The ``tag`` entry may stand anywhere and must appear exactly once; a key id given twice
        is refused rather than letting the later entry silently replace the earlier one.
        """
        keys: dict[str, bytes] = {}
        tag_key: bytes | None = None
        for part in (p.strip() for p in text.split(",")):
            if not part:
                continue
            kid, sep, b64 = part.partition(":")
            kid = kid.strip()
            if not sep:
                raise ConfigurationError("keyring entries look like 'kid:base64url-key'")
            if kid == TAG_ENTRY:
                if tag_key is not None:
                    raise ConfigurationError("the keyring string has more than one tag entry")
                tag_key = _b64decode(b64.strip())
                continue
            if kid in keys:
                raise ConfigurationError(f"key id {kid!r} appears more than once in the keyring string")
            keys[kid] = _b64decode(b64.strip())
        if not keys:
            raise ConfigurationError("a keyring needs at least one key")
        if tag_key is None:
            raise ConfigurationError(
                "the keyring string has no tag key: add an entry 'tag:<base64url of 32 random bytes>' "
                "(make one with Keyring.new_key_string('tag')). Subject tags come from it alone, so "
                "lockouts and limits survive retiring any sealing key. A keyring already in use keeps "
                "its existing tags by giving the tag entry the same base64 as its oldest key, "
                f"{next(iter(keys))!r}"
            )
        return cls(keys, tag_key=tag_key)

    @classmethod
    def from_env(cls, name: str = "VERIFYKIT_KEYS") -> Keyring:
        text = os.environ.get(name)
        if not text:
            raise ConfigurationError(
                f"set {name} to a keyring string (make one with Keyring.new_keyring_string())"
            )
        return cls.from_string(text)

    @staticmethod
    def new_key_string(kid: str) -> str:
        """A new ``kid:base64url`` entry to append to a keyring string (``"tag"`` makes a tag entry)."""
        return f"{kid}:{base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip('=')}"

    @classmethod
    def new_keyring_string(cls, kid: str = "k1") -> str:
        """A complete new keyring string: a tag key and one sealing key ``kid``."""
        return f"{cls.new_key_string(TAG_ENTRY)},{cls.new_key_string(kid)}"

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """The sealing keys' ids, oldest first (the tag key is not among them)."""
        return tuple(self._keys)

    def _purpose_key(self, kid: str, purpose: str) -> bytes:
        cache_key = (kid, purpose)
        derived = self._derived.get(cache_key)
        if derived is None:
            try:
                master = self._keys[kid]
            except KeyError:
                raise KeyringError(f"unknown key id {kid!r}") from None
            derived = _hkdf(master, purpose)
            with self._lock:
                self._derived[cache_key] = derived
        return derived

    def purpose_key_for_tags(self) -> bytes:
        """The key for stable identifiers (subject tags), derived from the tag key only.

        It is the same HKDF derivation earlier releases applied to the oldest sealing key, so a
        tag key equal to that key's bytes reproduces the tags those releases made.
        """
        return self._tag_key

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
