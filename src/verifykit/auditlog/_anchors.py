"""Anchors: copies of the log's signed checkpoints kept in a second place, chosen by URL.

Someone who can write the log and its head file can cut both back to an earlier checkpoint, and
nothing on that host can tell. An anchor keeps each checkpoint elsewhere, out of their reach;
``verify_log`` then finds a log that is shorter than, or differs from, the newest checkpoint
anchored for it.

- ``dir:///var/lib/verifykit/anchors``: one file per log (``LOG-ID.jsonl``), a checkpoint line
  per line, appended and flushed. Readable back, so ``verify`` can use it.
- ``redis://host:port/0?stream=KEY`` (or ``rediss://``): one entry per checkpoint in a Redis
  stream (``XADD KEY * log LOG-ID checkpoint LINE``; ``maxlen=N`` trims it approximately;
  ``socket_timeout`` bounds each round trip, default 2 seconds). Readable back.
- ``syslog://host:port`` (UDP, port 514 by default) or ``syslog:///dev/log`` (a local datagram
  socket; ``syslog://`` alone means that one): one message per checkpoint,
  ``verifykit-audit-anchor: {"checkpoint":{...},"log":"LOG-ID"}``; ``facility=local0`` picks the
  facility (default ``user``). Write-only: export what the syslog server kept to a file and give
  that file to ``verify``. UDP is fire and forget: a lost datagram is not noticed.

A log's id is the SHA-256 (first 32 hex digits) of its first line, the first writer's opening
checkpoint: signed, and never changed by anything that leaves the log verifiable.

Shipping happens off the decision path: the writer hands each checkpoint to a
:class:`AnchorShipper`, whose thread sends it, retries with back-off while the anchor is
unreachable, logs and counts each failure, and at close tries for a bounded time to send what is
still pending. A record is never refused because its anchor is unreachable (see docs/audit-log.md).
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from logging.handlers import SysLogHandler
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from .._errors import AuditUnavailable, ConfigurationError
from ._format import canonical

__all__ = [
    "Anchor",
    "AnchorShipper",
    "AnchorSource",
    "AnchorStatus",
    "DirectoryAnchor",
    "RedisAnchor",
    "SyslogAnchor",
    "anchor_entry",
    "anchor_from_url",
    "anchor_source_from_url",
    "log_id",
]

_log = logging.getLogger("verifykit.audit")
_SYSLOG_TAG = "verifykit-audit-anchor"
_DEFAULT_STREAM = "verifykit:audit:anchors"
_READ_PAGE = 1000


def log_id(first_line: bytes) -> str:
    """The id under which a log's checkpoints are anchored: from its first line (no newline)."""
    return hashlib.sha256(first_line).hexdigest()[:32]


def anchor_entry(log: str, checkpoint: str) -> str:
    """One anchored checkpoint as a self-describing JSON line (what syslog carries)."""
    return canonical({"checkpoint": json.loads(checkpoint), "log": log}).decode("ascii")


@runtime_checkable
class Anchor(Protocol):
    """Where checkpoints are shipped. ``ship`` raises :class:`~verifykit.AuditUnavailable` on failure."""

    def ship(self, log: str, checkpoint: str) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class AnchorSource(Protocol):
    """An anchor that can be read back: the checkpoint lines anchored for the log ``log``."""

    def checkpoints(self, log: str) -> list[str]: ...

    def close(self) -> None: ...


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


class DirectoryAnchor:
    """Checkpoints appended to ``DIRECTORY/LOG-ID.jsonl`` (created 0750 when missing)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        if not self.directory.is_absolute():
            raise ConfigurationError(f"an anchor directory must be an absolute path, got {self.directory}")

    def __str__(self) -> str:
        return f"dir://{self.directory}"

    def _file(self, log: str) -> Path:
        return self.directory / f"{log}.jsonl"

    def ship(self, log: str, checkpoint: str) -> None:
        try:
            self.directory.mkdir(mode=0o750, parents=True, exist_ok=True)
            fd = os.open(self._file(log), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                data = checkpoint.encode("ascii") + b"\n"
                if os.write(fd, data) != len(data):
                    raise OSError(0, "short write")
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditUnavailable(f"cannot write the anchor {self}: {exc.strerror or exc}") from exc

    def checkpoints(self, log: str) -> list[str]:
        if not self.directory.is_dir():
            raise ConfigurationError(f"the anchor directory {self.directory} does not exist")
        try:
            data = self._file(log).read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ConfigurationError(f"cannot read the anchor {self}: {exc.strerror}") from exc
        # A line without its newline is one whose append was cut short: not anchored yet.
        return [line.decode("ascii", "replace") for line in data.split(b"\n")[:-1] if line.strip()]

    def close(self) -> None:
        pass


class RedisAnchor:
    """Checkpoints added to a Redis stream (``stream``), one entry each."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.stream = query.pop("stream", _DEFAULT_STREAM)
        if not self.stream:
            raise ConfigurationError("a Redis anchor's stream must not be empty")
        try:
            maxlen = query.pop("maxlen", None)
            self.maxlen = None if maxlen is None else int(maxlen)
            timeout = float(query.pop("socket_timeout", "2.0"))
        except ValueError:
            raise ConfigurationError("a Redis anchor's maxlen and socket_timeout must be numbers") from None
        if (self.maxlen is not None and self.maxlen < 1) or not timeout > 0:
            raise ConfigurationError("a Redis anchor's maxlen and socket_timeout must be positive")
        self._url = urlunsplit(parts._replace(query=urlencode(query)))
        self._shown = _masked(url)
        try:
            import redis
        except ImportError as exc:
            raise ConfigurationError(
                "a Redis anchor needs the redis package: pip install 'verifykit[redis]'"
            ) from exc
        self._redis = redis
        self._client: Any = redis.Redis.from_url(
            self._url, socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True
        )

    def __str__(self) -> str:
        return self._shown

    def ship(self, log: str, checkpoint: str) -> None:
        try:
            if self.maxlen is None:
                self._client.xadd(self.stream, {"log": log, "checkpoint": checkpoint})
            else:
                self._client.xadd(
                    self.stream, {"log": log, "checkpoint": checkpoint}, maxlen=self.maxlen, approximate=True
                )
        except self._redis.RedisError as exc:
            raise AuditUnavailable(f"cannot write the anchor {self}: {exc}") from exc

    def checkpoints(self, log: str) -> list[str]:
        found: list[str] = []
        start = "-"
        try:
            while True:
                page = self._client.xrange(self.stream, min=start, max="+", count=_READ_PAGE)
                found += [str(f.get("checkpoint", "")) for _id, f in page if f.get("log") == log]
                if len(page) < _READ_PAGE:
                    return found
                start = "(" + page[-1][0]
        except self._redis.RedisError as exc:
            raise ConfigurationError(f"cannot read the anchor {self}: {exc}") from exc

    def close(self) -> None:
        self._client.close()


class SyslogAnchor:
    """Checkpoints sent as syslog messages (write-only), over UDP or a local datagram socket."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        facility = query.pop("facility", "user")
        if facility not in SysLogHandler.facility_names or query:
            raise ConfigurationError(f"a syslog anchor takes only facility=NAME, got {parts.query!r}")
        self._priority = SysLogHandler.facility_names[facility] * 8 + SysLogHandler.priority_names["info"]
        self.address: str | tuple[str, int]
        if parts.hostname:
            try:
                self.address = (parts.hostname, parts.port or 514)
            except ValueError:
                raise ConfigurationError(f"a syslog anchor's port is not a number: {url}") from None
            family = socket.AF_INET6 if ":" in parts.hostname else socket.AF_INET
        else:
            self.address = unquote(parts.path) or "/dev/log"
            family = socket.AF_UNIX
        self._family = family
        self._socket: socket.socket | None = None

    def __str__(self) -> str:
        if isinstance(self.address, str):
            return f"syslog://{self.address}"
        return f"syslog://{self.address[0]}:{self.address[1]}"

    def ship(self, log: str, checkpoint: str) -> None:
        message = f"<{self._priority}>{_SYSLOG_TAG}: {anchor_entry(log, checkpoint)}".encode("ascii")
        try:
            if self._socket is None:
                self._socket = socket.socket(self._family, socket.SOCK_DGRAM)
            self._socket.sendto(message, self.address)
        except OSError as exc:
            self.close()  # a fresh socket next time: the syslog daemon may have restarted
            raise AuditUnavailable(f"cannot write the anchor {self}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def anchor_from_url(url: str) -> DirectoryAnchor | RedisAnchor | SyslogAnchor:
    """The anchor a URL names: ``dir:///PATH``, ``redis://…?stream=KEY``, ``rediss://…``, ``syslog://…``."""
    parts = urlsplit(url)
    if parts.scheme == "dir":
        if parts.netloc not in {"", "localhost"} or not parts.path:
            raise ConfigurationError(f"a directory anchor is dir:///ABSOLUTE/PATH, got {url!r}")
        return DirectoryAnchor(unquote(parts.path))
    if parts.scheme in {"redis", "rediss"}:
        return RedisAnchor(url)
    if parts.scheme == "syslog":
        return SyslogAnchor(url)
    raise ConfigurationError(
        f"an audit anchor is dir:///PATH, redis://HOST:PORT/DB?stream=KEY or syslog://…, got {_masked(url)!r}"
    )


def anchor_source_from_url(url: str) -> DirectoryAnchor | RedisAnchor:
    """An anchor to read back when verifying; syslog is write-only and refused with a hint."""
    anchor = anchor_from_url(url)
    if isinstance(anchor, SyslogAnchor):
        raise ConfigurationError(
            "a syslog anchor cannot be read back: export the 'verifykit-audit-anchor' lines your "
            "syslog server kept to a file and give that file instead (--anchor FILE)"
        )
    return anchor


def checkpoints_in(lines: Iterable[str], log: str) -> list[str]:
    """The checkpoint lines of ``log`` among ``lines``: bare checkpoint lines (taken to be this
    log's) and anchor entries (kept only when they name ``log``), each from its first ``{`` on,
    so syslog lines with their prefix are read as they are."""
    found: list[str] = []
    for raw in lines:
        start = raw.find("{")
        line = raw[start:].strip() if start >= 0 else raw.strip()
        if not line:
            continue
        try:
            doc = json.loads(line)
        except ValueError:
            found.append(line)  # not JSON: reported as not a checkpoint
            continue
        if isinstance(doc, dict) and set(doc) == {"checkpoint", "log"}:
            if doc["log"] == log and isinstance(doc["checkpoint"], dict):
                found.append(canonical(doc["checkpoint"]).decode("ascii"))
            continue
        found.append(line)
    return found


@dataclass(frozen=True, slots=True)
class AnchorStatus:
    """How shipping to the anchor goes: counts since the log opened, and the last error."""

    anchor: str
    shipped: int
    failed: int
    pending: int
    dropped: int
    last_error: str | None


class AnchorShipper:
    """Ships checkpoints to an :class:`Anchor` from a thread of its own, so that the decision
    path only queues them.

    A failed send is logged on ``verifykit.audit``, counted, and retried after
    ``retry_seconds``, doubling up to a minute. At most ``capacity`` checkpoints wait; beyond
    that the oldest is dropped (and counted): the newest anchored checkpoint is the one that
    finds a truncation, and it seals everything before it. :meth:`close` tries for at most
    ``close_seconds`` to send what is still pending.
    """

    def __init__(
        self,
        anchor: Anchor,
        *,
        retry_seconds: float = 1.0,
        close_seconds: float = 5.0,
        capacity: int = 10_000,
    ) -> None:
        self.anchor = anchor
        self._retry = retry_seconds
        self._close_seconds = close_seconds
        self._capacity = capacity
        self._queue: collections.deque[tuple[str, str]] = collections.deque()
        self._changed = threading.Condition()
        self._closing = False
        self._deadline = 0.0
        self._shipped = self._failed = self._dropped = 0
        self._last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name="verifykit-audit-anchor", daemon=True)
        self._thread.start()

    def put(self, log: str, checkpoint: str) -> None:
        """Queue a checkpoint; never blocks on the anchor, never raises."""
        with self._changed:
            if len(self._queue) >= self._capacity:
                self._queue.popleft()
                self._dropped += 1
            self._queue.append((log, checkpoint))
            self._changed.notify_all()

    def status(self) -> AnchorStatus:
        with self._changed:
            return AnchorStatus(
                str(self.anchor),
                self._shipped,
                self._failed,
                len(self._queue),
                self._dropped,
                self._last_error,
            )

    def close(self) -> None:
        """Send what is pending (for at most ``close_seconds``), then stop."""
        with self._changed:
            if self._closing:
                return
            self._closing = True
            self._deadline = time.monotonic() + self._close_seconds
            self._changed.notify_all()
        self._thread.join(self._close_seconds + 1.0)
        pending = self.status().pending
        if pending:
            _log.error(
                "%d audit checkpoint(s) were not anchored to %s: a truncation back before them "
                "cannot be told by that anchor",
                pending,
                self.anchor,
            )
        if not self._thread.is_alive():
            self.anchor.close()

    def _run(self) -> None:
        delay = 0.0
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue or (self._closing and time.monotonic() >= self._deadline):
                    return
                item = self._queue[0]
            try:
                self.anchor.ship(*item)
            except Exception as exc:  # any failure of the anchor: counted, logged, retried
                delay = min(60.0, delay * 2) if delay else self._retry
                with self._changed:
                    self._failed += 1
                    self._last_error = str(exc)
                    _log.warning("cannot anchor an audit checkpoint (retrying in %.1fs): %s", delay, exc)
                    if not self._closing:
                        self._changed.wait_for(lambda: self._closing, timeout=delay)
                        if self._closing:
                            delay = 0.0  # closing: try again now, then back off within the deadline
                    else:
                        self._changed.wait(max(0.0, min(delay, self._deadline - time.monotonic())))
                continue
            delay = 0.0
            with self._changed:
                if self._queue and self._queue[0] is item:
                    self._queue.popleft()
                self._shipped += 1
                self._changed.notify_all()
