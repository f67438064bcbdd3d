"""The face index's rows by tag, kept in numpy arrays rather than a Python object per row.

At a million entries, a string per key, a bytes object per tag and a dictionary from tag to row
cost about 300 MiB beside the 488 MiB matrix; these arrays cost about 40 bytes a row.

- Each row's 16-byte tag (a keyed hash of its key) is two ``uint64`` words.
- An open-addressing table with linear probing finds a tag's row: ``int32`` slots (a row, or
  ``-1`` for empty), a power of two at least twice the rows' capacity, so at most half full.
  Tags are uniform keyed-hash output, so their low bits are the home slot as they are: no key
  can be chosen to pile up in one run without the keyring. A removal shifts the run after it
  back (no tombstones), so probes stay short however many changes a long-lived copy sees.
- Keys are UTF-8 in one byte heap, each row an offset and a length. A removed key's bytes are
  garbage until they outweigh the live ones; then the heap is rewritten, so the cost is
  amortised over the removals that made it.

Rows are dense: removing one moves the last into its gap (O(1)), and the caller moves its own
columns (the matrix, the norms) the same way. Not thread-safe: the index's lock guards it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["RowBook"]

_TAG = 16
_EMPTY = -1
_MIN_SLOTS = 8
_COMPACT_ROWS = 1 << 16  # rows rewritten per step of a compaction: bounds its scratch memory

Words = npt.NDArray[np.uint64]
Rows = npt.NDArray[np.intp]


def _words(tags: bytes) -> Words:
    if len(tags) % _TAG:
        raise ValueError("tags are 16 bytes each")
    return np.frombuffer(tags, dtype="<u8").reshape(-1, 2).astype(np.uint64)


def _slots_for(capacity: int) -> int:
    return max(_MIN_SLOTS, 1 << (2 * capacity - 1).bit_length())


class RowBook:
    """Tags and keys of dense rows ``0 .. len - 1``, each row found by its tag."""

    def __init__(self, capacity: int = 0) -> None:
        self._count = 0
        self._tags: Words = np.empty((capacity, 2), dtype=np.uint64)
        self._offsets: npt.NDArray[np.int64] = np.empty(capacity, dtype=np.int64)
        self._lengths: npt.NDArray[np.uint16] = np.empty(capacity, dtype=np.uint16)
        self._heap = bytearray()
        self._garbage = 0  # heap bytes no row points at
        self._slots: npt.NDArray[np.int32] = np.full(_slots_for(capacity), _EMPTY, dtype=np.int32)
        self._mask = len(self._slots) - 1

    def __len__(self) -> int:
        return self._count

    @property
    def heap_bytes(self) -> int:
        """The key heap's size, garbage included."""
        return len(self._heap)

    # -- reading ---------------------------------------------------------------------------------

    def find(self, tag: bytes) -> int:
        """``tag``'s row, or -1."""
        return int(self._slots.item(self._slot(tag)))

    def find_many(self, tags: bytes) -> Rows:
        """Each tag's row, or -1 (vectorized: for checks in bulk)."""
        words = _words(tags)
        rows, _ = self._probe(words, (words[:, 0] & np.uint64(self._mask)).astype(np.intp))
        return rows

    def key(self, row: int) -> str:
        start = int(self._offsets.item(row))
        return self._heap[start : start + int(self._lengths.item(row))].decode()

    def keys(self) -> list[str]:
        return [raw.decode() for raw in self.encoded_keys()]

    def encoded_keys(self) -> list[bytes]:
        """The rows' keys in UTF-8, in row order."""
        heap, n = bytes(self._heap), self._count  # one copy; then each slice is one bytes object
        spans = zip(self._offsets[:n].tolist(), self._lengths[:n].tolist(), strict=True)
        return [heap[start : start + size] for start, size in spans]

    # -- changes ---------------------------------------------------------------------------------

    def reserve(self, capacity: int) -> None:
        """Room for ``capacity`` rows (and a table at most half full with them)."""
        if capacity > len(self._tags):
            n = self._count
            tags = np.empty((capacity, 2), dtype=np.uint64)
            offsets = np.empty(capacity, dtype=np.int64)
            lengths = np.empty(capacity, dtype=np.uint16)
            tags[:n], offsets[:n], lengths[:n] = self._tags[:n], self._offsets[:n], self._lengths[:n]
            self._tags, self._offsets, self._lengths = tags, offsets, lengths
        if _slots_for(capacity) > len(self._slots):
            self._slots = np.full(_slots_for(capacity), _EMPTY, dtype=np.int32)
            self._mask = len(self._slots) - 1
            self._place(np.arange(self._count))

    def _room(self, rows: int) -> None:
        capacity = len(self._tags)
        if rows > capacity:
            self.reserve(max(rows, capacity + capacity // 4, _MIN_SLOTS))

    def put(self, tag: bytes, key: str) -> tuple[int, bool]:
        """``tag``'s row, a new last one if it had none (with ``key``); and whether it had one.

        A tag names one key, so an existing row keeps the key it has."""
        slot = self._slot(tag)
        row = int(self._slots.item(slot))
        if row != _EMPTY:
            return row, True
        if self._count == len(self._tags):
            self._room(self._count + 1)
            slot = self._slot(tag)  # the table may have grown
        row = self._count
        raw = key.encode()
        self._tags[row] = np.frombuffer(tag, dtype="<u8")
        self._offsets[row], self._lengths[row] = len(self._heap), len(raw)
        self._heap += raw
        self._slots[slot] = row
        self._count += 1
        return row, False

    def extend(self, tags: bytes, keys: Sequence[str]) -> Rows:
        """Append rows in bulk, vectorized: each tag the book lacks, the first time it appears.

        Returns the positions in ``keys`` that became rows ``len(self)`` onwards, in order; the
        others repeat a tag that the book or an earlier item already had."""
        words = _words(tags)
        if len(words) != len(keys):
            raise ValueError("one tag per key")
        base, n = self._count, len(keys)
        self._room(base + n)
        self._tags[base : base + n] = words  # provisional rows base + i, for the probes to compare
        slots = self._place(np.arange(base, base + n))
        kept = np.flatnonzero(slots >= 0)
        if kept.size < n:  # repeats left out: the kept close ranks
            self._slots[slots[kept]] = np.arange(base, base + kept.size, dtype=np.int32)
            self._tags[base : base + kept.size] = words[kept]
        raws = [keys[i].encode() for i in kept.tolist()]
        lengths = np.fromiter((len(raw) for raw in raws), dtype=np.int64, count=len(raws))
        starts = np.cumsum(lengths) - lengths + len(self._heap)
        self._offsets[base : base + kept.size] = starts
        self._lengths[base : base + kept.size] = lengths
        self._heap += b"".join(raws)
        self._count += kept.size
        return kept

    def drop(self, tag: bytes) -> tuple[int, int] | None:
        """Remove ``tag``'s row; the last row moves into its place. ``(row, last)`` (equal when
        the last itself went), or None if the tag had no row: the caller moves its own columns
        from ``last`` to ``row`` likewise."""
        slot = self._slot(tag)
        row = int(self._slots.item(slot))
        if row == _EMPTY:
            return None
        self._unslot(slot)
        last = self._count - 1
        self._garbage += int(self._lengths.item(row))
        if row != last:
            self._slots[self._slot_of(last)] = row
            self._tags[row] = self._tags[last]
            self._offsets[row], self._lengths[row] = self._offsets[last], self._lengths[last]
        self._count = last
        if self._garbage > len(self._heap) - self._garbage:
            self._compact()
        return row, last

    # -- the table -------------------------------------------------------------------------------

    def _home(self, row: int) -> int:
        return int(self._tags.item(row, 0)) & self._mask

    def _slot(self, tag: bytes) -> int:
        """The slot holding ``tag``'s row, or the empty slot that ends its probe."""
        if len(tag) != _TAG:
            raise ValueError("a tag is 16 bytes")
        low, high = int.from_bytes(tag[:8], "little"), int.from_bytes(tag[8:], "little")
        slots, tags, mask = self._slots, self._tags, self._mask
        slot = low & mask
        while True:
            row = int(slots.item(slot))
            if row == _EMPTY or (tags.item(row, 0) == low and tags.item(row, 1) == high):
                return slot
            slot = (slot + 1) & mask

    def _slot_of(self, row: int) -> int:
        slot = self._home(row)
        while self._slots.item(slot) != row:
            slot = (slot + 1) & self._mask
        return slot

    def _unslot(self, hole: int) -> None:
        """Empty a slot, shifting back the entries after it that probed past it."""
        slots, mask = self._slots, self._mask
        here = hole
        while True:
            here = (here + 1) & mask
            row = int(slots.item(here))
            if row == _EMPTY:
                break
            # It may fill the hole unless its home lies cyclically in (hole, here].
            home = self._home(row)
            if (hole < here and hole < home <= here) or (hole > here and (home > hole or home <= here)):
                continue
            slots[hole] = row
            hole = here
        slots[hole] = _EMPTY

    def _probe(self, words: Words, start: Rows) -> tuple[Rows, Rows]:
        """Vectorized lookup of tags from slots ``start``: each one's row (-1 if absent) and the
        slot its probe ended in (its row's, or the first empty one)."""
        rows = np.full(len(words), _EMPTY, dtype=np.intp)
        at = start.copy()
        todo = np.arange(len(words))
        while todo.size:
            seen = self._slots[at[todo]].astype(np.intp)
            full = seen != _EMPTY
            same = np.zeros(todo.size, dtype=bool)
            same[full] = (self._tags[seen[full]] == words[todo[full]]).all(axis=1)
            rows[todo[same]] = seen[same]
            todo = todo[full & ~same]
            at[todo] = (at[todo] + 1) & self._mask
        return rows, at

    def _place(self, rows: Rows) -> Rows:
        """Put rows (their tags written) into the table in rounds, vectorized: each probes to
        an empty slot, the first row claiming a slot takes it and the others probe on from
        there. Each row's slot, or -1 where its tag was already in the table (or earlier in
        ``rows``): such a row is left out."""
        words = self._tags[rows]
        placed = np.full(len(rows), _EMPTY, dtype=np.intp)
        at = (words[:, 0] & np.uint64(self._mask)).astype(np.intp)
        todo = np.arange(len(rows))
        while todo.size:
            found, ended = self._probe(words[todo], at[todo])
            todo, ended = todo[found == _EMPTY], ended[found == _EMPTY]
            claimed, first = np.unique(ended, return_index=True)  # first: the earliest claimant
            self._slots[claimed] = rows[todo[first]]
            placed[todo[first]] = claimed
            lost = np.ones(todo.size, dtype=bool)
            lost[first] = False
            todo = todo[lost]
            at[todo] = ended[lost]
        return placed

    # -- the heap --------------------------------------------------------------------------------

    def _compact(self) -> None:
        """Rewrite the heap with the live keys only, in row order."""
        n = self._count
        old = np.frombuffer(self._heap, dtype=np.uint8)
        heap = bytearray()
        for start in range(0, n, _COMPACT_ROWS):
            stop = min(n, start + _COMPACT_ROWS)
            lengths = self._lengths[start:stop].astype(np.int64)
            ends = np.cumsum(lengths)
            shift = self._offsets[start:stop] - (ends - lengths)
            picks = np.repeat(shift, lengths) + np.arange(int(ends[-1]))
            self._offsets[start:stop] = ends - lengths + len(heap)
            heap += old[picks].tobytes()
        del old  # a view of the old heap
        self._heap, self._garbage = heap, 0
