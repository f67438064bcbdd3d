"""The shared face index's entries and the thread that follows the store.

With ``FaceIndex(..., shared=SharedEntries(url))`` the store is the index's source of truth and
the matrix in memory is a copy: each sidecar process rebuilds it from the store when it starts and
then follows the store's change feed (:mod:`verifykit.store`'s shared entries), so a face added or
removed through any sidecar is searchable, or gone, on every other within a poll or two.

An entry is stored under a keyed tag of the key (HMAC-SHA256 under the keyring's tag key,
128 bits), never the key itself; its value is the key and the 128 float32s, sealed with the
keyring (AES-256-GCM, the purpose key of saved index files) with the tag and the model bound as
associated data, so a value cannot be moved to another tag or read by a sidecar without the keys.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import struct
import threading
from collections.abc import Callable

import numpy as np

from .._errors import KeyringError, StoreUnavailable, TemplateError
from .._subject import stable_mac
from ..crypto import Keyring
from ._models import MODEL_ID
from ._template import DIMENSIONS, Vector

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "Follower",
    "entry_tag",
    "give_back_freed_memory",
    "open_entry",
    "seal_entry",
]

DEFAULT_POLL_INTERVAL = 0.25  # seconds between looks at the change feed
_MAX_BACKOFF = 2.0  # seconds between tries while the store does not answer
_PURPOSE = "face-index"
_AAD = b"verifykit-face-index-entry\x00"
_VECTOR_BYTES = DIMENSIONS * 4

_log = logging.getLogger("verifykit.face.index")


def entry_tag(keyring: Keyring, key: str) -> bytes:
    """The store's name for ``key``'s entry: stable across sealing-key rotations."""
    return stable_mac(keyring, "face-index", key)


def _aad(tag: bytes) -> bytes:
    return _AAD + MODEL_ID.encode() + b"\x00" + tag


def seal_entry(keyring: Keyring, tag: bytes, key: str, vector: Vector) -> bytes:
    raw = key.encode()
    plain = struct.pack("<H", len(raw)) + raw + np.ascontiguousarray(vector, dtype="<f4").tobytes()
    return keyring.seal(_PURPOSE, plain, aad=_aad(tag))


def open_entry(keyring: Keyring, tag: bytes, blob: bytes) -> tuple[str, Vector]:
    """The key and encoding sealed under ``tag``; :class:`TemplateError` if it was altered, moved
    from another tag, sealed for another model or with a key this keyring lacks."""
    try:
        plain = keyring.open(_PURPOSE, blob, aad=_aad(tag))
    except KeyringError as exc:
        raise TemplateError(f"a shared face index entry failed authentication: {exc.message}") from None
    (size,) = struct.unpack_from("<H", plain)
    if len(plain) != 2 + size + _VECTOR_BYTES:
        raise TemplateError("a shared face index entry has the wrong size")
    key = plain[2 : 2 + size].decode("utf-8")
    return key, np.frombuffer(plain, dtype="<f4", count=DIMENSIONS, offset=2 + size).astype(np.float32)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to call
        return None
    return trim


def give_back_freed_memory() -> None:
    """Return the heap a rebuild's store replies left free to the system: glibc keeps it otherwise
    (about 75 MiB after reading a million entries, a seventh of the copy itself)."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


class Follower:
    """A daemon thread that calls ``step`` every ``interval`` seconds until :meth:`stop`.

    A store that does not answer is logged once per outage and tried again with a growing pause;
    the copy keeps serving what it had (searches may miss what changed meanwhile; the store's own
    operations fail closed as always).
    """

    def __init__(self, step: Callable[[], None], interval: float) -> None:
        self._step = step
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="verifykit-face-index", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        delay, failing = self._interval, False
        while not self._stopped.wait(delay):
            try:
                self._step()
            except Exception as exc:
                if not isinstance(exc, StoreUnavailable):
                    _log.exception("the shared face index failed to apply the store's changes")
                elif not failing:
                    _log.warning("the shared face index cannot follow the store: %s", exc.message)
                failing, delay = True, min(_MAX_BACKOFF, max(delay * 2, self._interval))
                continue
            if failing:
                _log.warning("the shared face index follows the store again")
            failing, delay = False, self._interval

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not threading.current_thread():
            self._thread.join()
