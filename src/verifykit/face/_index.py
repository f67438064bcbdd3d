"""1:N duplicate search: is this new face already enrolled under another identity?

All encodings live in one contiguous float32 matrix, so a search is one BLAS matrix-vector
product plus a few passes over a vector of length N. Distances use
``|m - q|^2 = |m|^2 + |q|^2 - 2 m.q`` with the row norms kept up to date on every add, which
avoids materialising the N x 128 difference matrix (that alone costs more than the product).
Candidates are then re-checked exactly in float64, so float32 rounding cannot move a face
across the threshold.

The matrix is shared by every thread and task, under one lock. Each policed call is a flow
(:mod:`verifykit._flow`) whose lock-holding part, the product included, is a ``Work`` step: the
blocking flavour runs it in the calling thread, the asyncio one in a thread beside the loop. So a
search holds the lock through its product (at 1M templates, tens of milliseconds), and a change
waiting for it never holds up the event loop.

Searches and changes are policed like verifications: ``threshold`` and ``k`` are capped by the
settings (a search names faces that would pass verification, not the nearest strangers), each is
limited per client on the shared store when a client is named, and each leaves an audit event
(who, what, outcome, how many matches; never an encoding or template).

Saved indexes are sealed with the keyring in chunks; each chunk's associated data binds the
file's random id, the chunk's position and the chunk count, so chunks cannot be reordered,
dropped or spliced in from another file.

A *shared* index (``shared=``, a :class:`~verifykit.store.SharedEntries` on Redis or Redis
Cluster) keeps its templates sealed in the store, the source of truth, and the matrix here is a
copy: rebuilt from the store when the index is made, then following the store's change feed from
a daemon thread (:mod:`._shared_index`). A change goes to the store first (one atomic script),
then into this copy; other processes see it at their next poll.

Rows are found by their entry's tag (a keyed hash of the key, the store's name for the entry, as
the feed names tags only) in a :class:`~._rows.RowBook`, local index or shared: numpy arrays,
not a Python object per row, so a million rows hold little beyond the matrix.

Reading one's own writes: a change this process made is applied here at once, and a feed result
older than it (polled before it was written) does not undo it: ``_pending`` holds, per tag, the
stream entry of this process's latest change until the feed has moved past it.
"""

from __future__ import annotations

import logging
import os
import secrets
import struct
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

import numpy as np
import numpy.typing as npt

from .._audit import DEFAULT_AUDIT_SINK, AuditSink, emit
from .._charged import decision_step, validate_client
from .._errors import InvalidInput, KeyringError, RateLimited, StoreUnavailable, TemplateError
from .._flow import Emit, Flow, FlowIO, Work, WorkKind, run_sync, store_op
from .._shell import require
from .._verdict import Reason, Way, store_name
from ..crypto import Keyring
from ..store import EntryChange, SharedEntries, WindowPolicy, stream_position
from ._image import ImageInput
from ._models import MODEL_ID
from ._rows import RowBook
from ._settings import FaceSettings
from ._shared_index import (
    DEFAULT_POLL_INTERVAL,
    Follower,
    entry_tag,
    give_back_freed_memory,
    open_entry,
    seal_entry,
)
from ._template import DIMENSIONS, Vector, check_encoding, open_template
from ._work import FaceReading, face_work
from ._workers import shared_workers

__all__ = ["FaceIndex", "FaceIndexBase", "FaceMatch"]

_PURPOSE = "face-index"
_FILE_MAGIC = b"VKFI\x01"
_PAYLOAD_MAGIC = b"VKFX"
_CHUNK = 16 * 1024 * 1024
_REBUILD_BATCH = 4096  # entries read from the store before their rows are filed in bulk
_SLACK = 1e-4  # float32 pre-filter slack on squared distances; candidates are re-checked exactly
_VERIFIER = Way.FACE
T = TypeVar("T")
_log = logging.getLogger("verifykit.face.index")


class FaceMatch(NamedTuple):
    """One search hit: the key it was added under and its Euclidean distance."""

    key: str
    distance: float


def _check_key(key: object) -> str:
    if not isinstance(key, str) or not key or len(key.encode()) > 0xFFFF:
        raise InvalidInput("an index key is a non-empty string", field="key")
    return key


def _check_client(client: object) -> str | None:
    return None if client is None else validate_client(client)


class FaceIndexBase:
    """The index itself (an in-memory matrix, saved and loaded sealed) and the flows of its
    policed calls, which :class:`FaceIndex` and :class:`verifykit.aio.FaceIndex` run.

    Encodings by key (usually the subject), searchable by distance.

    ``add(key, template)`` opens a sealed template with ``key`` as its subject; ``add(key,
    encoding)`` takes a 128-d encoding directly. Adding an existing key replaces its encoding.
    Safe to share between threads; searches run one at a time.

    ``client`` names who asks (the sidecar passes its caller): with one, searches and changes
    count against ``settings.search_limit`` and ``settings.index_change_limit`` on ``store``
    and are refused with :class:`~verifykit.RateLimited` beyond them. Every search and change
    is audited to ``audit``.

    ``shared`` (entries on the shared Redis store) makes the store the index's source of truth:
    the index is rebuilt from it here (blocking: about ten seconds a million) and then follows
    its changes every ``poll_interval`` seconds until :meth:`close`.
    """

    def __init__(
        self,
        keyring: Keyring,
        *,
        store: Any,
        settings: FaceSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
        shared: SharedEntries | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
    ) -> None:
        # The shared store: limits counted on a private one would hold per process, not deployment.
        require("FaceIndex", store=store, keyring=keyring)
        self._keyring = keyring
        self._settings = settings if settings is not None else FaceSettings()
        self._store = store
        self._audit = audit
        self._pool = shared_workers(self._settings)  # a photo query is read in the face workers
        self._lock = threading.Lock()
        self._matrix: npt.NDArray[np.float32] = np.empty((0, DIMENSIONS), dtype=np.float32)
        self._half_norms: npt.NDArray[np.float32] = np.empty(0, dtype=np.float32)
        self._book = RowBook()  # each row's key and tag, found by tag
        self._shared = shared
        self._positions: list[str] = []
        self._pending: dict[bytes, tuple[int, str]] = {}
        self._follower: Follower | None = None
        if shared is not None:
            if not poll_interval > 0:
                raise InvalidInput(
                    "poll_interval must be a positive number of seconds", field="poll_interval"
                )
            try:
                self._rebuild()
            except StoreUnavailable as exc:
                # Searches fail closed until the follower has built the copy.
                _log.warning("the shared face index is not loaded yet: %s", exc.message)
            self._follower = Follower(self._follow, poll_interval)

    def close(self) -> None:
        """Stop following the store (a shared index); the copy stays searchable as it is."""
        follower, self._follower = self._follower, None
        if follower is not None:
            follower.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def shared(self) -> bool:
        """Whether the store holds this index (and this is a copy that follows it)."""
        return self._shared is not None

    # -- size ------------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._book)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        tag = self._tag(key)
        with self._lock:
            return self._book.find(tag) >= 0

    def _tag(self, key: str) -> bytes:
        return entry_tag(self._keyring, key)

    def keys(self) -> list[str]:
        with self._lock:
            return self._book.keys()

    # -- policy ----------------------------------------------------------------------------------

    @staticmethod
    def _event(
        action: str, subject: str, outcome: str, reason: Reason, client: str | None, **details: str
    ) -> Emit:
        return decision_step(_VERIFIER, action, subject, outcome, reason=reason, client=client, **details)

    def _limit(
        self, action: str, policy_name: str, client: str | None, subject: str, cost: int = 1
    ) -> Flow[None]:
        """Count ``cost`` events against the client's window; refuse (and audit) beyond it."""
        policy: WindowPolicy | None = getattr(self._settings, policy_name)
        if client is None or policy is None:
            return
        # One window per policy: additions and removals share the change limit.
        hit = yield store_op.hit(f"client:{store_name(_VERIFIER)}:{policy_name}:{client}", policy, cost)
        if not hit.allowed:
            yield self._event(action, subject, "refused", Reason.RATE_LIMITED, client, limit=policy_name)
            raise RateLimited(
                f"too many face index {action} calls ({policy_name.replace('_', ' ')}); "
                f"retry in {hit.retry_after:.0f} s",
                retry_after=hit.retry_after,
                reason=policy_name,
            )

    # -- changes ---------------------------------------------------------------------------------

    def _reserve(self, rows: int) -> None:
        capacity = self._matrix.shape[0]
        if rows <= capacity:
            return
        # A quarter more, not double: at a million rows, doubling would reserve another 512 MB.
        new_capacity = max(rows, capacity + capacity // 4, 1024)
        matrix = np.empty((new_capacity, DIMENSIONS), dtype=np.float32)
        half_norms = np.empty(new_capacity, dtype=np.float32)
        count = len(self._book)
        matrix[:count] = self._matrix[:count]
        half_norms[:count] = self._half_norms[:count]
        self._matrix, self._half_norms = matrix, half_norms
        self._book.reserve(new_capacity)

    def _vector(self, key: str, template_or_encoding: object) -> Vector:
        if isinstance(template_or_encoding, bytes | bytearray | memoryview):
            return open_template(self._keyring, key, template_or_encoding)
        return check_encoding(template_or_encoding)

    def _add_many(
        self, items: Iterable[tuple[str, bytes | npt.NDArray[np.floating]]], client: str | None
    ) -> Flow[None]:
        client = _check_client(client)
        checked = [(_check_key(key), self._vector(key, value)) for key, value in items]
        if not checked:
            return
        yield from self._limit("index_add", "index_change_limit", client, checked[0][0], cost=len(checked))
        put = self._put if self._shared is None else self._put_shared
        tagged = [(self._tag(key), key, vector) for key, vector in checked]
        replaced: set[str] = yield Work(put, (tagged,), WorkKind.RELEASES_GIL)
        for key, _ in checked:
            outcome = "replaced" if key in replaced else "added"
            yield self._event("index_add", key, outcome, Reason.APPROVED, client)

    def _put(self, tagged: list[tuple[bytes, str, Vector]]) -> set[str]:
        """Write checked encodings (with their keys' tags) under the lock; the keys that were
        already there."""
        replaced: set[str] = set()
        with self._lock:
            fresh = {tag for tag, _, _ in tagged if self._book.find(tag) < 0}
            self._reserve(len(self._book) + len(fresh))
            for tag, key, vector in tagged:
                if self._set_row(tag, key, vector):
                    replaced.add(key)
        return replaced

    def _set_row(self, tag: bytes, key: str, vector: Vector) -> bool:
        """Write a row (the lock held, room reserved); whether it replaced one."""
        row, existed = self._book.put(tag, key)
        self._matrix[row] = vector
        self._half_norms[row] = 0.5 * float(np.dot(vector, vector))
        return existed

    def _drop_row(self, tag: bytes) -> bool:
        """Drop a row (the lock held): the last row moves into the gap (O(1))."""
        dropped = self._book.drop(tag)
        if dropped is None:
            return False
        row, last = dropped
        if row != last:
            self._matrix[row] = self._matrix[last]
            self._half_norms[row] = self._half_norms[last]
        return True

    # -- the shared index: the store first, then this copy ---------------------------------------

    def _entries(self) -> SharedEntries:
        if self._shared is None:
            raise TypeError("not a shared face index")  # a bug: only shared paths call this
        return self._shared

    def _put_shared(self, tagged: list[tuple[bytes, str, Vector]]) -> set[str]:
        """Write to the store (each entry atomic), then here; the keys the store already held."""
        shared = self._entries()
        written = shared.put_many([(tag, seal_entry(self._keyring, tag, key, v)) for tag, key, v in tagged])
        with self._lock:
            self._reserve(len(self._book) + len(tagged))
            for (tag, key, vector), done in zip(tagged, written, strict=True):
                if self._newer_than_copy(tag, done.partition, done.entry):
                    self._set_row(tag, key, vector)
        return {key for (_, key, _), done in zip(tagged, written, strict=True) if done.existed}

    def _remove_shared(self, key: str) -> bool:
        shared = self._entries()
        tag = self._tag(key)
        done = shared.delete(tag)
        with self._lock:
            if done.entry and self._newer_than_copy(tag, done.partition, done.entry):
                self._drop_row(tag)
        return done.existed

    def _newer_than_copy(self, tag: bytes, partition: int, entry: str) -> bool:
        """Whether this process's change (stream ``entry``) is newer than what the feed has
        brought here; if so it is pending until the feed moves past it. The lock held."""
        if not self._positions:
            return False  # not built yet: the rebuild will bring it
        if stream_position(entry) <= stream_position(self._positions[partition]):
            return False  # the feed already brought this change, or a newer one
        self._pending[tag] = (partition, entry)
        return True

    def _rebuild(self) -> None:
        """Read the whole index from the store, then swap it in (the feed follows from before)."""
        shared = self._entries()
        positions = shared.head()  # first: a change during the scan is then in the feed after it
        capacity = shared.count() * 65 // 64 + 1024  # a little room for what arrives meanwhile
        matrix = np.empty((capacity, DIMENSIONS), dtype=np.float32)
        book = RowBook(capacity)
        tags: list[bytes] = []
        keys: list[str] = []
        for tag, blob in shared.scan():
            key, vector = open_entry(self._keyring, tag, blob)
            row = len(book) + len(keys)
            if row == capacity:
                capacity += capacity // 4
                grown = np.empty((capacity, DIMENSIONS), dtype=np.float32)
                grown[:row] = matrix[:row]
                matrix = grown
            matrix[row] = vector
            tags.append(tag)
            keys.append(key)
            if len(keys) == _REBUILD_BATCH:
                _append_rows(book, matrix, tags, keys)
        _append_rows(book, matrix, tags, keys)
        count = len(book)
        half_norms = np.empty(capacity, dtype=np.float32)
        half_norms[:count] = 0.5 * np.einsum("ij,ij->i", matrix[:count], matrix[:count])
        book.reserve(capacity)
        with self._lock:
            self._matrix, self._half_norms, self._book = matrix, half_norms, book
            self._positions = list(positions)
            self._pending.clear()
        give_back_freed_memory()

    def _follow(self) -> None:
        """One look at the feed (the follower thread): apply what changed since the last."""
        shared = self._entries()
        with self._lock:
            positions = list(self._positions)
        if not positions:
            self._rebuild()
            return
        polled = shared.poll(positions)
        if polled.gap:
            _log.warning("the shared face index missed changes trimmed from the store's feed; rebuilding")
            self._rebuild()
            return
        opened = [(change.tag, self._opened(change)) for change in polled.changes]
        with self._lock:
            self._reserve(len(self._book) + len(opened))
            for tag, entry in opened:
                pending = self._pending.get(tag)
                if pending is not None and stream_position(pending[1]) > stream_position(
                    polled.positions[pending[0]]
                ):
                    continue  # this process changed it after the poll read it: that change stands
                if entry is None:
                    self._drop_row(tag)
                else:
                    self._set_row(tag, *entry)
            self._positions = [
                max(old, new, key=stream_position)
                for old, new in zip(self._positions, polled.positions, strict=True)
            ]
            self._pending = {
                tag: (p, e)
                for tag, (p, e) in self._pending.items()
                if stream_position(e) > stream_position(self._positions[p])
            }

    def _opened(self, change: EntryChange) -> tuple[str, Vector] | None:
        if change.value is None:
            return None
        try:
            return open_entry(self._keyring, change.tag, change.value)
        except TemplateError as exc:
            # Not this copy's to repair: the entry stays out of the search, and the log says so.
            _log.error("a shared face index entry was left out: %s", exc.message)
            return None

    def add_matrix(self, keys: Sequence[str], encodings: npt.NDArray[np.floating]) -> None:
        """Append many new keys from an N x 128 matrix without a Python loop over rows.

        For loading in bulk by trusted code (:meth:`load`, migrations): no client limit, one
        audit event with the count rather than one per key."""
        keys = [_check_key(k) for k in keys]
        if encodings.ndim != 2 or encodings.shape != (len(keys), DIMENSIONS):
            raise InvalidInput(f"encodings must have shape ({len(keys)}, {DIMENSIONS})", field="encodings")
        if not np.all(np.isfinite(encodings)):
            raise InvalidInput("encodings must be finite", field="encodings")
        if len(set(keys)) != len(keys):
            raise InvalidInput("keys must be distinct", field="keys")
        tags = [self._tag(key) for key in keys]
        joined = b"".join(tags)
        if self._shared is not None:
            with self._lock:
                self._refuse_present(joined)
            rows = np.asarray(encodings, dtype=np.float32)
            self._put_shared(
                [(tag, key, rows[i]) for i, (tag, key) in enumerate(zip(tags, keys, strict=True))]
            )
            self._emit(self._event("index_add", "", "added", Reason.APPROVED, None, count=str(len(keys))))
            return
        with self._lock:  # checked and appended under one hold: no add can slip in between
            self._refuse_present(joined)
            start = len(self._book)
            self._reserve(start + len(keys))
            block = self._matrix[start : start + len(keys)]
            block[:] = encodings
            self._half_norms[start : start + len(keys)] = 0.5 * np.einsum("ij,ij->i", block, block)
            self._book.extend(joined, keys)  # all new and distinct: every one becomes a row
        self._emit(self._event("index_add", "", "added", Reason.APPROVED, None, count=str(len(keys))))

    def _refuse_present(self, tags: bytes) -> None:
        """``add_matrix`` appends only: refuse if any of these tags has a row (the lock held)."""
        if (self._book.find_many(tags) >= 0).any():
            raise InvalidInput("add_matrix only appends new keys; use add to replace", field="keys")

    def _emit(self, step: Emit) -> None:
        emit(self._audit, step.event)

    def _remove_flow(self, key: str, client: str | None) -> Flow[bool]:
        key, client = _check_key(key), _check_client(client)
        yield from self._limit("index_remove", "index_change_limit", client, key)
        if self._shared is None:
            removed: bool = yield Work(self._remove, (key,), WorkKind.RELEASES_GIL)
            yield self._event(
                "index_remove", key, "removed" if removed else "absent", Reason.APPROVED, client
            )
            return removed
        # The right to erasure: the template leaves the store (and with the feed, every copy)
        # before this returns; the audit event says so.
        removed = yield Work(self._remove_shared, (key,), WorkKind.RELEASES_GIL)
        outcome = "removed" if removed else "absent"
        yield self._event("index_remove", key, outcome, Reason.APPROVED, client, erased="store")
        return removed

    def _remove(self, key: str) -> bool:
        """Drop ``key`` under the lock (a Work step, as every wait for the lock is)."""
        with self._lock:
            return self._drop_row(self._tag(key))

    # -- search ----------------------------------------------------------------------------------

    def _query(self, query: object) -> Flow[Vector]:
        """An encoding as is; a photo (bytes, or an image array) through the face pipeline."""
        if isinstance(query, np.ndarray) and query.ndim == 1:
            return check_encoding(query)
        if not isinstance(query, bytes | bytearray | memoryview | np.ndarray):
            raise InvalidInput("search takes a 128-d encoding or a photo", field="query")
        settings = self._settings
        reading: FaceReading = yield face_work(query, settings, settings.enroll_multiple_faces)
        if reading.encoding is None:
            reason = reading.reason.value if reading.reason is not None else "no_face"
            raise InvalidInput(f"the photo has no usable face ({reason})", field="image")
        return check_encoding(reading.encoding)

    def _search_bounds(self, k: int, threshold: float | None) -> float:
        settings = self._settings
        if (
            isinstance(k, bool)
            or not isinstance(k, int | np.integer)
            or not 1 <= k <= settings.max_search_results
        ):
            raise InvalidInput(f"k must be between 1 and {settings.max_search_results}", field="k")
        cap = settings.search_distance_cap
        limit = min(settings.threshold, cap) if threshold is None else float(threshold)
        if not (np.isfinite(limit) and 0 <= limit <= cap):
            # Larger distances would name the nearest strangers: identification, not deduplication.
            raise InvalidInput(f"threshold must be between 0 and {cap:g}", field="threshold")
        return limit

    def _search_flow(
        self, query: ImageInput, k: int, threshold: float | None, client: str | None
    ) -> Flow[list[FaceMatch]]:
        limit = self._search_bounds(k, threshold)
        client = _check_client(client)
        yield from self._limit("search", "search_limit", client, "")
        vector = yield from self._query(query)
        # numpy's matrix product releases the GIL: a thread beside the loop, under the async driver.
        hits: list[FaceMatch] = yield Work(self._search, (vector, int(k), limit), WorkKind.RELEASES_GIL)
        yield self._event(
            "search",
            "",
            "searched",
            Reason.APPROVED,
            client,
            matches=str(len(hits)),
            k=str(k),
            max_distance=f"{limit:g}",
        )
        return hits

    def _search(self, q: Vector, k: int, limit: float) -> list[FaceMatch]:
        """The product and the candidates under the lock (a Work step: never on the event loop)."""
        half_qn = 0.5 * float(np.dot(q, q))
        with self._lock:
            if self._shared is not None and not self._positions:
                # An empty copy would pass every duplicate check: fail closed instead.
                raise StoreUnavailable("the shared face index has not been read from the store yet")
            count = len(self._book)
            if count == 0:
                return []
            matrix = self._matrix[:count]
            # score = m.q - |m|^2/2, and |m - q|^2 = |q|^2 - 2 score: the nearest have the highest score.
            score = matrix @ q
            score -= self._half_norms[:count]
            floor = np.float32(half_qn - 0.5 * (limit * limit + _SLACK))
            candidates = np.flatnonzero(score >= floor)
            if candidates.size > k:
                candidates = candidates[np.argpartition(score[candidates], -k)[-k:]]
            rows = matrix[candidates].astype(np.float64)
            keys = [self._book.key(i) for i in candidates.tolist()]
        exact = np.linalg.norm(rows - q.astype(np.float64), axis=1)
        hits = [FaceMatch(key, float(d)) for key, d in zip(keys, exact, strict=True) if d <= limit]
        hits.sort(key=lambda m: m.distance)
        return hits

    def _search_template_flow(
        self, subject: str, template: bytes, k: int, threshold: float | None, client: str | None
    ) -> Flow[list[FaceMatch]]:
        encoding = open_template(self._keyring, subject, template)
        return (yield from self._search_flow(encoding, k, threshold, client))

    # -- persistence -----------------------------------------------------------------------------

    def _payload(self) -> tuple[bytes, memoryview]:
        model = MODEL_ID.encode()
        parts = [
            _PAYLOAD_MAGIC,
            bytes([len(model)]),
            model,
            struct.pack("<HQ", DIMENSIONS, len(self._book)),
        ]
        for raw in self._book.encoded_keys():
            parts.append(struct.pack("<H", len(raw)))
            parts.append(raw)
        if not len(self._book):  # a view with a zero in its shape cannot be cast
            return b"".join(parts), memoryview(b"")
        matrix = np.ascontiguousarray(self._matrix[: len(self._book)], dtype="<f4")
        return b"".join(parts), matrix.data.cast("B")

    @staticmethod
    def _aad(file_id: bytes, position: int, total: int) -> bytes:
        return b"verifykit-face-index\x00" + file_id + struct.pack("<II", position, total)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the index sealed, atomically (a reader sees the old file or the new one)."""
        target = Path(path)
        with self._lock:
            head, body = self._payload()
            spans: list[Any] = [head[i : i + _CHUNK] for i in range(0, len(head), _CHUNK)]
            spans += [body[i : i + _CHUNK] for i in range(0, len(body), _CHUNK)]
            file_id = secrets.token_bytes(16)
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            try:
                with open(tmp, "wb") as out:
                    out.write(_FILE_MAGIC + file_id + struct.pack("<I", len(spans)))
                    for position, span in enumerate(spans):
                        sealed = self._keyring.seal(
                            _PURPOSE, bytes(span), aad=self._aad(file_id, position, len(spans))
                        )
                        out.write(struct.pack("<I", len(sealed)))
                        out.write(sealed)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            finally:
                tmp.unlink(missing_ok=True)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        keyring: Keyring,
        *,
        store: Any,
        settings: FaceSettings | None = None,
        audit: AuditSink | None = DEFAULT_AUDIT_SINK,
    ) -> Self:
        """Read an index that :meth:`save` wrote; :class:`TemplateError` if it was altered."""
        data = Path(path).read_bytes()
        header = len(_FILE_MAGIC) + 16 + 4
        if len(data) < header or not data.startswith(_FILE_MAGIC):
            raise TemplateError("not a sealed face index file")
        file_id = data[len(_FILE_MAGIC) : len(_FILE_MAGIC) + 16]
        (total,) = struct.unpack("<I", data[header - 4 : header])
        plain = bytearray()
        pos = header
        for position in range(total):
            if pos + 4 > len(data):
                raise TemplateError("the face index file is truncated")
            (size,) = struct.unpack("<I", data[pos : pos + 4])
            sealed = data[pos + 4 : pos + 4 + size]
            pos += 4 + size
            try:
                plain += keyring.open(_PURPOSE, sealed, aad=cls._aad(file_id, position, total))
            except KeyringError as exc:
                raise TemplateError(f"the face index file failed authentication: {exc.message}") from None
        if pos != len(data):
            raise TemplateError("the face index file has trailing data")
        index = cls(keyring, settings=settings, store=store, audit=audit)
        keys, matrix = _parse_payload(bytes(plain))
        index.add_matrix(keys, matrix)
        return index


class FaceIndex(FaceIndexBase):
    """Encodings by key (usually the subject), searchable by distance, on a sync store.

    ``add(key, template)`` opens a sealed template with ``key`` as its subject; ``add(key,
    encoding)`` takes a 128-d encoding directly. Adding an existing key replaces its encoding.
    Safe to share between threads; searches run one at a time. ``client`` names who asks (the
    sidecar passes its caller): with one, searches and changes count against
    ``settings.search_limit`` and ``settings.index_change_limit`` on ``store`` and are refused with
    :class:`~verifykit.RateLimited` beyond them. Every search and change is audited to ``audit``.
    """

    def _run(self, flow: Flow[T]) -> T:
        return run_sync(flow, FlowIO(store=self._store, audit=self._audit, processes=self._pool))

    def add(
        self, key: str, template_or_encoding: bytes | npt.NDArray[np.floating], *, client: str | None = None
    ) -> None:
        """Add or replace ``key``'s encoding (a template is opened with ``key`` as its subject)."""
        self.add_many([(_check_key(key), template_or_encoding)], client=client)

    def add_many(
        self, items: Iterable[tuple[str, bytes | npt.NDArray[np.floating]]], *, client: str | None = None
    ) -> None:
        """Add many at once (one lock, one resize); all are validated before any is added, and
        the whole batch counts against the client's change limit or none of it is added."""
        self._run(self._add_many(items, client))

    def remove(self, key: str, *, client: str | None = None) -> bool:
        """Remove ``key``; False if it was not there. The last row moves into the gap (O(1))."""
        return self._run(self._remove_flow(key, client))

    def search(
        self, query: ImageInput, k: int = 5, threshold: float | None = None, *, client: str | None = None
    ) -> list[FaceMatch]:
        """The up to ``k`` nearest keys within ``threshold`` (default: the settings'), nearest first.

        ``query`` is a 128-d encoding (from :meth:`FaceVerifier.encode`) or a photo. A photo
        without a usable face raises :class:`InvalidInput` rather than returning no matches: a
        duplicate check must never pass because the face was not found. ``k`` above
        ``settings.max_search_results`` or ``threshold`` above ``settings.max_search_distance``
        (the verification threshold unless set) raise :class:`InvalidInput`.
        """
        return self._run(self._search_flow(query, k, threshold, client))

    def search_template(
        self,
        subject: str,
        template: bytes,
        k: int = 5,
        threshold: float | None = None,
        *,
        client: str | None = None,
    ) -> list[FaceMatch]:
        """Search with ``subject``'s sealed template (as enrol returned it)."""
        return self._run(self._search_template_flow(subject, template, k, threshold, client))


def _append_rows(book: RowBook, matrix: npt.NDArray[np.float32], tags: list[bytes], keys: list[str]) -> None:
    """Append rows whose encodings are written in ``matrix`` after the book's; a repeated tag
    (``HSCAN`` may return an entry twice) is left out, the rows after it closing ranks."""
    start = len(book)
    kept = book.extend(b"".join(tags), keys)
    if kept.size < len(keys):
        matrix[start : start + kept.size] = matrix[start + kept]
    tags.clear()
    keys.clear()


def _parse_payload(plain: bytes) -> tuple[list[str], npt.NDArray[np.float32]]:
    if not plain.startswith(_PAYLOAD_MAGIC) or len(plain) < 5:
        raise TemplateError("unknown face index format")
    model_end = 5 + plain[4]
    model = plain[5:model_end].decode("utf-8", "replace")
    if model != MODEL_ID:
        raise TemplateError(f"the index was built with model {model!r}, not {MODEL_ID!r}")
    dims, count = struct.unpack("<HQ", plain[model_end : model_end + 10])
    if dims != DIMENSIONS:
        raise TemplateError("the face index has the wrong dimensions")
    pos = model_end + 10
    keys: list[str] = []
    for _ in range(count):
        (size,) = struct.unpack("<H", plain[pos : pos + 2])
        keys.append(plain[pos + 2 : pos + 2 + size].decode("utf-8"))
        pos += 2 + size
    body = plain[pos:]
    if len(body) != count * DIMENSIONS * 4:
        raise TemplateError("the face index matrix has the wrong size")
    return keys, np.frombuffer(body, dtype="<f4").reshape(count, DIMENSIONS).astype(np.float32)
