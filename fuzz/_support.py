"""What every harness shares: the targets, the invariant, and turning bytes into arguments."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from verifykit import VerifyKitError

from ._targets import CORPUS, TARGETS

__all__ = ["CORPUS", "TARGETS", "Input", "typed"]

T = TypeVar("T")


def typed(call: Callable[[], T]) -> T | None:
    """``call()``'s result, or None when it raised a verifykit error: the only failure a parser
    may show. Anything else propagates, and the fuzzer reports it as a crash."""
    try:
        return call()
    except VerifyKitError:
        return None


class Input:
    """The fuzzer's bytes as arguments, read front to back so seeds stay readable.

    Text fields are UTF-8 up to a 0xFF byte (which UTF-8 never holds) or the end; bytes that are
    not UTF-8 become lone surrogates (``surrogateescape``), as ``os.environ`` and file names give
    them to Python callers. ``rest`` is every byte left, for a binary last field.
    """

    SEPARATOR = 0xFF

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def byte(self) -> int:
        """The next byte (0 once the input is used up)."""
        if self._pos >= len(self._data):
            return 0
        self._pos += 1
        return self._data[self._pos - 1]

    def pick(self, count: int) -> int:
        """An index below ``count``, from one byte."""
        return self.byte() % count

    def flag(self) -> bool:
        return bool(self.byte() & 1)

    def text(self, max_chars: int | None = None) -> str:
        end = self._data.find(self.SEPARATOR, self._pos)
        end = len(self._data) if end < 0 else end
        raw = self._data[self._pos : end]
        self._pos = end + 1
        text = raw.decode("utf-8", "surrogateescape")
        return text if max_chars is None else text[:max_chars]

    def number(self) -> float | None:
        """A text field read as a float (``nan``, ``inf`` and ``1e999`` included); None if it is not one."""
        try:
            return float(self.text(64))
        except ValueError:
            return None

    def rest(self) -> bytes:
        raw = self._data[self._pos :]
        self._pos = len(self._data)
        return raw
