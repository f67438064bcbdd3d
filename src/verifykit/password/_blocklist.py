"""The breached-password blocklist: the NCSC's 100,000 most common passwords.

The package ships the list gzip'd (see ``BLOCKLIST-NOTICE.txt`` for its source and MIT
license). It is loaded once, lazily and thread-safely, into a sorted array of 64-bit keyed
digests: under 1 MiB in memory instead of the ~8 MiB a set of strings costs, and a lookup is
one BLAKE2b and a binary search. With 2^64 possible digests, the chance that a password not
on the list collides with one of its ~10^5 entries is about 5 * 10^-15.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
from array import array
from bisect import bisect_left
from importlib import resources

__all__ = ["Blocklist", "default_blocklist"]

_DATA = "ncsc-top-100k.txt.gz"
_PERSON = b"verifykit-block"


def _key(entry: str) -> int:
    return int.from_bytes(hashlib.blake2b(entry.encode("utf-8"), digest_size=8, person=_PERSON).digest())


class Blocklist:
    """Membership in a fixed list of (already normalized, lower-cased) passwords."""

    def __init__(self, entries: list[str]) -> None:
        self._keys = array("Q", sorted({_key(e) for e in entries}))

    @classmethod
    def from_gzip(cls, data: bytes) -> Blocklist:
        return cls([line for line in gzip.decompress(data).decode("utf-8").split("\n") if line])

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, candidate: object) -> bool:
        if not isinstance(candidate, str):
            return False
        key = _key(candidate)
        i = bisect_left(self._keys, key)
        return i < len(self._keys) and self._keys[i] == key

    @property
    def nbytes(self) -> int:
        """Memory the lookup table holds."""
        return self._keys.itemsize * len(self._keys)


_loaded: Blocklist | None = None
_lock = threading.Lock()


def default_blocklist() -> Blocklist:
    """The shipped NCSC list, loaded on first use."""
    global _loaded  # noqa: PLW0603 - a process-wide lazy singleton
    if _loaded is None:
        with _lock:
            if _loaded is None:
                data = resources.files(__package__).joinpath(_DATA).read_bytes()
                _loaded = Blocklist.from_gzip(data)
    return _loaded
