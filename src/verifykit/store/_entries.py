"""Shared entries: opaque values under opaque tags, with a change feed, on Redis or Redis Cluster.

The store side of the shared 1:N face index (:mod:`verifykit.face`), which seals its templates
before they come here; like the rest of the store, this module knows nothing of faces. A *tag* is
a short byte string (a keyed hash of the subject: no account ids in Redis), a *value* a sealed
blob. Writers put and delete; readers take a snapshot (:meth:`SharedEntries.scan` after
:meth:`SharedEntries.head`) and then follow the changes (:meth:`SharedEntries.poll`).

Layout (``NS`` is the namespace, ``PP`` the partition, ``BBBB`` the bucket)::

    NS:{fi.PP}:b:BBBB     hash, tag -> value: one of BUCKETS buckets
    NS:{fi.PP}:log        stream of changes, one entry (tag, bucket) per put or delete
    NS:{fi.PP}:cut        the newest stream entry id that trimming removed

Why chunked, and why so: one hash holding a country's templates (a million at ~560 bytes is
about 600 MB) would be one key on one node. ``HGETALL`` or ``DEL`` on it blocks Redis for seconds,
a reply that size stalls every other client, and Redis Cluster cannot move part of a key: resharding
would migrate it whole, blocking both nodes. So entries are spread by tag over ``BUCKETS`` (1024)
hashes: at a million, about a thousand entries (half a megabyte) each, read with ``HSCAN`` a
thousand at a time, so no command here holds Redis for more than about a millisecond. Buckets
are grouped into ``PARTITIONS`` (16) by a hash tag each, so that a write is one Lua script on one
slot (the bucket, its partition's stream and cut) -- atomic, one round trip -- while the index as
a whole spreads over 16 slots, and so over the masters of a cluster. A reader follows 16 streams:
one pipelined round trip per node per poll.

What the stream holds: tag and bucket only, never the value. A reader that sees an entry fetches
the value as it is at that moment (in the same script), so readers converge on the store's state
whatever order they poll in, and an erased value is gone from Redis when its delete returns.
Entries are trimmed once older than ``retention`` (default 10 minutes) by every write and poll; a
reader whose last position is older than the cut has missed changes and must take a new snapshot
(:attr:`FeedPoll.gap`). A tag in a stream entry outlives its value by at most the retention.

Every driver error becomes :class:`~verifykit.StoreUnavailable`; its message never quotes a value.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, NoReturn
from urllib.parse import urlsplit

from .._errors import ConfigurationError, InvalidInput, StoreUnavailable
from ._cluster import cluster_nodes
from ._factory import parse_store_url
from ._redis import redis_driver, split_query, store_options, verified_tls

__all__ = ["BUCKETS", "PARTITIONS", "EntryChange", "FeedPoll", "SharedEntries", "Written", "stream_position"]

PARTITIONS = 16
BUCKETS = 1024  # a multiple of PARTITIONS: bucket b lives in partition b % PARTITIONS
_SCAN_COUNT = 1000  # entries per HSCAN step: about half a megabyte of templates, ~1 ms of Redis
_SCAN_PARALLEL = 64  # buckets scanned side by side (pipelined) during a snapshot
_POLL_COUNT = 5000  # stream entries read per partition per poll
_PER_SCRIPT = 64  # changes to one bucket in one script (bulk loads: far fewer round trips)
_WRITE_BATCH = 256  # scripts per pipeline in put_many
ZERO = "0-0"


@functools.cache
def _script() -> bytes:
    return (resources.files("verifykit.store") / "lua" / "entries.lua").read_bytes()


@functools.cache
def _script_sha() -> str:
    return hashlib.sha1(_script(), usedforsecurity=False).hexdigest()


def stream_position(entry_id: str) -> tuple[int, int]:
    """A stream entry id (``"ms-seq"``) as a pair that orders like the stream."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


@dataclass(frozen=True, slots=True)
class Written:
    """What a put or delete did: whether the tag was there before, its partition, and the stream
    entry that records it (``""`` for a delete of an absent tag: nothing changed)."""

    existed: bool
    partition: int
    entry: str


@dataclass(frozen=True, slots=True)
class EntryChange:
    """A tag's value as the store holds it now; ``None``: it is gone."""

    tag: bytes
    value: bytes | None


@dataclass(frozen=True, slots=True)
class FeedPoll:
    """The changes after a reader's positions, and its positions after them.

    ``gap``: trimming removed entries the reader had not read; it must take a new snapshot.
    """

    positions: tuple[str, ...]
    changes: list[EntryChange]
    gap: bool


def partition_of(bucket: int) -> int:
    return bucket % PARTITIONS


def bucket_of(tag: bytes) -> int:
    """The bucket a tag lives in: tags are keyed hashes, so their leading bytes spread evenly."""
    if not isinstance(tag, bytes) or not 8 <= len(tag) <= 64:
        raise InvalidInput("an entry tag is 8 to 64 bytes", field="tag")
    return int.from_bytes(tag[:4], "big") % BUCKETS


class SharedEntries:
    """Opaque entries and their change feed on ``redis://``, ``rediss://``, ``unix://`` or
    ``redis+cluster://`` (the store's URL and options: timeouts, pool size, TLS).

    Blocking, and safe to share between threads (the driver pools its connections). Connects on
    first use. ``retention``: seconds a change stays in the stream (a reader cut off for longer
    takes a new snapshot).
    """

    def __init__(self, url: str, *, namespace: str = "vk", retention: float = 600.0, **options: Any) -> None:
        parsed = parse_store_url(url, options)
        if parsed.kind == "memory":
            raise ConfigurationError(
                "shared entries need a Redis store (redis://, rediss:// or redis+cluster://)"
            )
        if not namespace or "{" in namespace or "}" in namespace:
            raise ConfigurationError("namespace must be non-empty and free of '{' and '}'")
        if not retention > 0:
            raise ConfigurationError("retention must be a positive number of seconds")
        self.namespace = namespace
        self.cluster = parsed.kind == "cluster"
        self._redis = redis_driver()
        self._url, merged = split_query(url, options)
        merged.pop("wait_replicas", None)
        merged.pop("wait_timeout", None)
        self._options = store_options(merged)
        if urlsplit(url).scheme.lower().startswith("rediss"):
            verified_tls(self._options)
        self._retention_ms = str(max(1, round(retention * 1000)))
        self._errors = (self._redis.RedisError, self._redis.exceptions.RedisClusterException, OSError)
        self._lock = threading.Lock()
        self._client: Any = None

    def __repr__(self) -> str:
        parts = urlsplit(self._url)
        host = parts.netloc.rsplit("@", 1)[-1]  # never show a password
        return f"SharedEntries({parts.scheme}://{host}{parts.path}, namespace={self.namespace!r})"

    # -- connection --------------------------------------------------------------------------

    def _connect(self) -> Any:
        redis = self._redis
        if self.cluster:
            nodes, username, password = cluster_nodes(self._url)
            return redis.cluster.RedisCluster(
                startup_nodes=[redis.cluster.ClusterNode(host, port) for host, port in nodes],
                username=username,
                password=password,
                ssl=urlsplit(self._url).scheme.lower() == "rediss+cluster",
                decode_responses=False,
                **self._options,
            )
        pool = redis.BlockingConnectionPool.from_url(
            self._url,
            decode_responses=False,
            timeout=self._options["socket_connect_timeout"],
            **self._options,
        )
        return redis.Redis(connection_pool=pool)

    def _ready(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._connect()
            return self._client

    def _pipeline(self) -> Any:
        client = self._ready()
        return client.pipeline() if self.cluster else client.pipeline(transaction=False)

    def close(self) -> None:
        """Close the connections; the next call opens new ones."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def _unavailable(self, operation: str, exc: BaseException) -> NoReturn:
        # The driver's message can quote arguments (sealed templates): name only the error's type.
        raise StoreUnavailable(
            f"the Redis store did not answer {operation} on the shared face index ({type(exc).__name__})"
        ) from None

    # -- keys ----------------------------------------------------------------------------------

    def _prefix(self, partition: int) -> str:
        return f"{self.namespace}:{{fi.{partition:02d}}}:"

    def _stream_keys(self, partition: int) -> tuple[str, str]:
        prefix = self._prefix(partition)
        return prefix + "log", prefix + "cut"

    def bucket_key(self, bucket: int) -> str:
        return f"{self._prefix(partition_of(bucket))}b:{bucket:04d}"

    def _eval(self, pipe: Any, body: bool, partition: int, keys: Sequence[str], args: Sequence[Any]) -> None:
        stream, cut = self._stream_keys(partition)
        # EVALSHA, or EVAL with the body after a NOSCRIPT; through execute_command, since a
        # cluster pipeline has neither method, but routes both by their first key.
        script = ("EVAL", _script()) if body else ("EVALSHA", _script_sha())
        pipe.execute_command(
            *script, 2 + len(keys), stream, cut, *keys, args[0], self._retention_ms, *args[1:]
        )

    def _execute(self, fill: Callable[[Any, bool], None]) -> list[Any]:
        """Fill a pipeline and send it. A server that has not seen the script (a new node, a
        restart, a failover, a SCRIPT FLUSH) gets the pipeline once more with the script's body,
        which it then keeps. Every change is idempotent in state, so a repeat is harmless."""
        pipe = self._pipeline()
        fill(pipe, False)
        try:
            return list(pipe.execute())
        except self._redis.exceptions.NoScriptError:
            pass
        pipe = self._pipeline()
        fill(pipe, True)
        return list(pipe.execute())

    # -- writes --------------------------------------------------------------------------------

    def put(self, tag: bytes, value: bytes) -> Written:
        """Store ``value`` under ``tag`` (replacing any) and record the change."""
        (written,) = self.put_many([(tag, value)])
        return written

    def put_many(self, items: Iterable[tuple[bytes, bytes | None]]) -> list[Written]:
        """Put (or, for a ``None`` value, delete) many, pipelined; the changes to one bucket go
        in one script (up to ``_PER_SCRIPT`` of them), each script atomic on its own."""
        checked = [(tag, bucket_of(tag), value) for tag, value in items]
        groups: dict[int, list[int]] = {}
        for position, (_, bucket, _) in enumerate(checked):
            groups.setdefault(bucket, []).append(position)
        calls = [
            (bucket, positions[start : start + _PER_SCRIPT])
            for bucket, positions in groups.items()
            for start in range(0, len(positions), _PER_SCRIPT)
        ]
        out: list[Written | None] = [None] * len(checked)
        for first in range(0, len(calls), _WRITE_BATCH):
            batch = calls[first : first + _WRITE_BATCH]

            def fill(pipe: Any, body: bool, batch: list[tuple[int, list[int]]] = batch) -> None:
                for bucket, positions in batch:
                    args: list[Any] = ["write", f"{bucket:04d}"]
                    for position in positions:
                        tag, _, value = checked[position]
                        args += [tag, "d", ""] if value is None else [tag, "p", value]
                    self._eval(pipe, body, partition_of(bucket), [self.bucket_key(bucket)], args)

            try:
                replies = self._execute(fill)
            except self._errors as exc:
                self._unavailable("a write", exc)
            for (bucket, positions), reply in zip(batch, replies, strict=True):
                for n, position in enumerate(positions):
                    out[position] = Written(reply[2 * n] == 1, partition_of(bucket), _text(reply[2 * n + 1]))
        return [written for written in out if written is not None]

    def delete(self, tag: bytes) -> Written:
        """Remove ``tag``'s value from the store and record the change (if it was there)."""
        (written,) = self.put_many([(tag, None)])
        return written

    # -- reads ---------------------------------------------------------------------------------

    def get(self, tag: bytes) -> bytes | None:
        """The value stored under ``tag`` now."""
        try:
            value = self._ready().hget(self.bucket_key(bucket_of(tag)), tag)
        except self._errors as exc:
            self._unavailable("a read", exc)
        return None if value is None else bytes(value)

    def count(self) -> int:
        """How many entries the store holds (the sum of the buckets' sizes)."""
        try:
            pipe = self._pipeline()
            for bucket in range(BUCKETS):
                pipe.hlen(self.bucket_key(bucket))
            return sum(int(n) for n in pipe.execute())
        except self._errors as exc:
            self._unavailable("a count", exc)

    def head(self) -> tuple[str, ...]:
        """Each partition's newest change: where a reader starts that scans the entries next."""

        def fill(pipe: Any, body: bool) -> None:
            for partition in range(PARTITIONS):
                self._eval(pipe, body, partition, [], ["head"])

        try:
            return tuple(_text(reply) for reply in self._execute(fill))
        except self._errors as exc:
            self._unavailable("a read of the change stream", exc)

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """Every entry, in batches of about a thousand per bucket (never a long command).

        Not a snapshot: a change made during the scan may or may not show. Read :meth:`head`
        before, and :meth:`poll` from it after, and every such change is seen there.
        """
        pending = list(range(BUCKETS))
        cursors: dict[int, int] = {}
        while pending:
            batch, pending = pending[:_SCAN_PARALLEL], pending[_SCAN_PARALLEL:]
            try:
                pipe = self._pipeline()
                for bucket in batch:
                    pipe.hscan(self.bucket_key(bucket), cursors.get(bucket, 0), count=_SCAN_COUNT)
                replies = pipe.execute()
            except self._errors as exc:
                self._unavailable("a scan", exc)
            for bucket, (cursor, found) in zip(batch, replies, strict=True):
                yield from found.items()
                if int(cursor):
                    cursors[bucket] = int(cursor)
                    pending.append(bucket)

    def poll(self, positions: Sequence[str], count: int = _POLL_COUNT) -> FeedPoll:
        """The changes after ``positions`` (one per partition, from :meth:`head` or an earlier
        poll), up to ``count`` per partition, each with its value as the store holds it now."""
        if len(positions) != PARTITIONS:
            raise InvalidInput(f"a feed position names all {PARTITIONS} partitions", field="positions")

        def fill(pipe: Any, body: bool) -> None:
            for partition, after in enumerate(positions):
                self._eval(
                    pipe, body, partition, [], ["poll", after, str(count), self._prefix(partition) + "b:"]
                )

        try:
            replies = self._execute(fill)
        except self._errors as exc:
            self._unavailable("a read of the change stream", exc)
        moved: list[str] = []
        changes: list[EntryChange] = []
        gap = False
        for after, reply in zip(positions, replies, strict=True):
            cut, last = _text(reply[0]), _text(reply[1])
            gap = gap or stream_position(cut) > stream_position(after)
            moved.append(last)
            values = reply[2:]
            changes += [
                EntryChange(bytes(values[i]), bytes(values[i + 1]) or None) for i in range(0, len(values), 2)
            ]
        return FeedPoll(tuple(moved), changes, gap)

    def erase_all(self) -> None:
        """Remove every entry, stream and cut of this namespace's index (tests, decommissioning)."""
        try:
            pipe = self._pipeline()
            for bucket in range(BUCKETS):
                pipe.delete(self.bucket_key(bucket))
            for partition in range(PARTITIONS):
                for key in self._stream_keys(partition):
                    pipe.delete(key)
            pipe.execute()
        except self._errors as exc:
            self._unavailable("an erase", exc)


def _text(value: Any) -> str:
    return value.decode("ascii") if isinstance(value, bytes) else str(value)
