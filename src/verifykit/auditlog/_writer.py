"""The writing side: :class:`AuditLog`, an audit sink that appends hash-chained records and
signed checkpoints to one file that several processes may share.

- One chain per writer. Every opened :class:`AuditLog` is a writer with an id of its own
  (``NAME-RANDOM``), and each of its lines holds its sequence number and the hash of its
  previous line. Writers never wait on each other's chains, only on the file lock.
- Whole lines: each line is written with one ``write`` on a descriptor opened ``O_APPEND``,
  under an exclusive ``flock``, so lines of several processes never interleave. A line left
  torn by a crash is ended with a newline by the next writer before it appends. A torn line is
  always the last line of its writer's chain: a writer whose own write failed part-way never
  continues that chain; it starts a new one (a new writer id, opening with a checkpoint).
- Checkpoints: every ``checkpoint_records`` records or ``checkpoint_seconds`` seconds, when the
  log opens and when it closes, the writer signs (Ed25519) the head of its chain *and* the
  SHA-256 of the whole file up to the checkpoint, so a checkpoint seals every writer's lines
  before it. The latest checkpoint of each writer is also kept in ``PATH.head``, so a log cut
  short before its last checkpoint is told apart from a writer that crashed.
- Anchors: with ``anchor=`` (a URL or an :class:`~verifykit.auditlog.Anchor`), every checkpoint
  is also shipped to a second place, off the decision path (see ``_anchors``).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .._audit import AuditEvent
from .._clock import Clock, SystemClock
from .._errors import AuditUnavailable, ConfigurationError
from .._subject import subject_tag
from ..crypto import Keyring
from ._anchors import Anchor, AnchorShipper, AnchorStatus, anchor_from_url, log_id
from ._format import CHECKPOINT, GENESIS, RECORD, VERSION, canonical, line_hash, signed_part
from ._keys import key_id

__all__ = ["AuditLog", "AuditLogSettings", "head_path"]

_log = logging.getLogger("verifykit.audit")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CHUNK = 1024 * 1024
_FILE_MODE = 0o640


def head_path(path: Path) -> Path:
    """Where the latest checkpoint of each writer of the log at ``path`` is kept."""
    return path.with_name(path.name + ".head")


@dataclass(frozen=True, slots=True)
class AuditLogSettings:
    """How often records are sealed and flushed to disk.

    ``checkpoint_records`` and ``checkpoint_seconds`` bound how many records, and for how long,
    stay *unsealed*: someone who can write the file could rewrite those undetected, so keep both
    small; a checkpoint costs one signature (tens of microseconds) and a read of what other
    writers appended since the last one.

    ``fsync``: ``"record"`` (default) flushes every record to disk before the decision it
    records takes effect, so a power cut never loses a record of a decision that happened
    (one disk flush per decision); ``"checkpoint"`` flushes only at checkpoints: much faster, and
    a crash of the process still loses nothing (the data is in the kernel), but a power cut or
    kernel crash may lose the records since the last checkpoint.

    With an anchor: a checkpoint the anchor refused is retried after ``anchor_retry_seconds``
    (doubling up to a minute), and closing the log waits at most ``anchor_close_seconds`` for
    the checkpoints still pending.
    """

    checkpoint_records: int = 100
    checkpoint_seconds: float = 10.0
    fsync: Literal["record", "checkpoint"] = "record"
    anchor_retry_seconds: float = 1.0
    anchor_close_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.checkpoint_records < 1:
            raise ConfigurationError("checkpoint_records must be at least 1")
        if not self.checkpoint_seconds > 0:
            raise ConfigurationError("checkpoint_seconds must be positive")
        if self.fsync not in {"record", "checkpoint"}:
            raise ConfigurationError("fsync must be record or checkpoint")
        if not self.anchor_retry_seconds > 0 or not self.anchor_close_seconds >= 0:
            raise ConfigurationError(
                "anchor_retry_seconds must be positive, anchor_close_seconds not negative"
            )


def _writer_id(name: str | None) -> str:
    if name is None:
        name = re.sub(r"[^A-Za-z0-9._-]", "-", socket.gethostname())[:48] or "writer"
    if not _NAME.fullmatch(name):
        raise ConfigurationError("an audit writer name is 1-64 letters, digits, '.', '_' or '-'")
    # A fresh chain on every open: two processes given the same name never share one.
    return f"{name}-{secrets.token_hex(6)}"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


class AuditLog:
    """An audit sink (pass it as ``audit=`` to any verifier) writing a tamper-evident log.

    A call writes the event's record before it returns, so a flow's decision takes effect only
    after its record is in the file; an I/O failure raises :class:`~verifykit.AuditUnavailable`,
    which makes a required record fail the decision (fail closed).

    Records hold the event's fields, none of them secret (see :class:`~verifykit.AuditEvent`);
    with a ``keyring`` the subject is written as its keyed tag (``subject_tag``, the one the
    store uses) instead of the caller's id. ``name`` prefixes the writer id (default: the host
    name). Close it (or use ``with``) to write the closing checkpoint.

    ``anchor`` (a URL such as ``dir:///var/lib/verifykit/anchors``, ``redis://host:6379/0?stream=KEY``
    or ``syslog://``, or an :class:`~verifykit.auditlog.Anchor`) also ships every checkpoint to a
    second place. Shipping never blocks or fails a record: an unreachable anchor is logged,
    counted (:meth:`anchor_status`) and retried.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        signing_key: Ed25519PrivateKey,
        *,
        settings: AuditLogSettings | None = None,
        keyring: Keyring | None = None,
        name: str | None = None,
        clock: Clock | None = None,
        anchor: str | Anchor | None = None,
    ) -> None:
        self.path = Path(path)
        self.settings = settings if settings is not None else AuditLogSettings()
        self._name = name
        self.writer = _writer_id(name)
        self._key = signing_key
        self._key_id = key_id(signing_key.public_key())
        self._keyring = keyring
        self._clock = clock if clock is not None else SystemClock()
        self._lock = threading.Lock()
        self._seq = 0
        self._prev = GENESIS
        self._unsealed = 0
        self._sealed_at = 0.0
        self._read = 0  # bytes of the file folded into _file_hash so far
        self._file_hash = hashlib.sha256()
        self._closed = False
        self._torn = False  # a write of ours failed part-way: this chain must not go on
        self._log_id: str | None = None
        if isinstance(anchor, str):
            anchor = anchor_from_url(anchor)
        self._shipper: AnchorShipper | None = None
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, _FILE_MODE)
        except OSError as exc:
            raise ConfigurationError(f"cannot open the audit log {self.path}: {exc.strerror}") from exc
        if anchor is not None:
            self._shipper = AnchorShipper(
                anchor,
                retry_seconds=self.settings.anchor_retry_seconds,
                close_seconds=self.settings.anchor_close_seconds,
            )
        try:
            with self._lock:
                self._checkpoint(closing=False)
        except BaseException:
            os.close(self._fd)
            if self._shipper is not None:
                self._shipper.close()
            raise
        self._stop = threading.Event()
        self._sealer = threading.Thread(target=self._seal_loop, name="verifykit-audit-seal", daemon=True)
        self._sealer.start()

    # -- the sink ------------------------------------------------------------------------------

    def __call__(self, event: AuditEvent) -> None:
        self.append(event)

    def append(self, event: AuditEvent) -> None:
        """Write ``event``'s record (and a checkpoint when one is due); raise AuditUnavailable on failure."""
        fields = self._fields(event)
        with self._lock:
            if self._closed:
                raise AuditUnavailable("the audit log is closed")
            if self._torn:
                self._checkpoint(closing=False)  # opens the new chain
            self._write(RECORD, fields, sync=self.settings.fsync == "record")
            self._unsealed += 1
            due = self._clock.now() - self._sealed_at >= self.settings.checkpoint_seconds
            if due or self._unsealed >= self.settings.checkpoint_records:
                self._checkpoint(closing=False)

    def checkpoint(self) -> None:
        """Seal what this writer has written so far now."""
        with self._lock:
            if self._closed:
                raise AuditUnavailable("the audit log is closed")
            self._checkpoint(closing=False)

    def close(self) -> None:
        """Write the closing checkpoint and close the file. Safe to call twice."""
        self._stop.set()
        if self._sealer is not threading.current_thread():
            self._sealer.join()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._checkpoint(closing=True)
            finally:
                os.close(self._fd)
                if self._shipper is not None:
                    self._shipper.close()

    def anchor_status(self) -> AnchorStatus | None:
        """How shipping checkpoints to the anchor goes (None: no anchor)."""
        return None if self._shipper is None else self._shipper.status()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- inside --------------------------------------------------------------------------------

    def _fields(self, event: AuditEvent) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "at": event.at,
            "action": event.action,
            "verifier": event.verifier,
            "outcome": event.outcome,
            "reason": event.reason,
            "challenge_id": event.challenge_id,
            "destination": event.destination,  # masked by every verifier
            "client": event.client,
            "details": {str(k): str(v) for k, v in event.details.items()},
        }
        if self._keyring is not None and event.subject:
            fields["subject_tag"] = subject_tag(self._keyring, event.subject)
        else:
            fields["subject"] = event.subject
        return fields

    @contextlib.contextmanager
    def _file_locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _end_torn_line(self) -> int:
        """End a line a crashed writer left unfinished, so ours starts on a line of its own; the size."""
        size = os.fstat(self._fd).st_size
        if size and os.pread(self._fd, 1, size - 1) != b"\n":
            _write_all(self._fd, b"\n")
            size += 1
        return size

    def _first_line(self, size: int) -> bytes:
        """The log's first line (without its newline), which names it to anchors."""
        data = b""
        while b"\n" not in data and len(data) < size:
            chunk = os.pread(self._fd, min(_CHUNK, size - len(data)), len(data))
            if not chunk:
                break
            data += chunk
        return data.partition(b"\n")[0]

    def _new_chain(self) -> None:
        """Leave a chain whose last line is torn; go on as a new writer."""
        old, self.writer = self.writer, _writer_id(self._name)
        self._seq, self._prev, self._torn = 0, GENESIS, False
        _log.error("audit writer %s left a torn line after a failed write; going on as %s", old, self.writer)

    def _write(self, kind: str, fields: dict[str, Any], *, sync: bool) -> tuple[bytes, int]:
        """Append one line of this writer's chain; the line and the offset it starts at."""
        if self._torn:
            self._new_chain()
        offset: int | None = None
        written = False
        try:
            with self._file_locked():
                offset = self._end_torn_line()
                if kind == CHECKPOINT and self._log_id is None and offset:
                    self._log_id = log_id(self._first_line(offset))
                if kind == CHECKPOINT:
                    fields = self._sealed(fields, offset)
                line = canonical(
                    {"kind": kind, "writer": self.writer, "seq": self._seq, "prev": self._prev, **fields}
                )
                if kind == CHECKPOINT:
                    line = self._signed(line)
                    if self._log_id is None:
                        self._log_id = log_id(line)  # the log's first line
                _write_all(self._fd, line + b"\n")
                written = True
                # The line is in the file: the chain moves on even if the flush below fails.
                self._seq += 1
                self._prev = line_hash(line)
                if sync:
                    os.fsync(self._fd)
                if kind == CHECKPOINT:
                    self._update_head(line)
        except OSError as exc:
            if not written and offset is not None:
                self._torn = self._grew_past(offset)
            raise AuditUnavailable(f"cannot write the audit log {self.path}: {exc.strerror}") from exc
        if kind == CHECKPOINT and self._shipper is not None and self._log_id is not None:
            self._shipper.put(self._log_id, line.decode("ascii"))
        return line, offset

    def _grew_past(self, offset: int) -> bool:
        """Whether a failed write left part of a line after ``offset`` (if unsure: yes)."""
        try:
            return os.fstat(self._fd).st_size != offset
        except OSError:
            return True

    def _sealed(self, fields: dict[str, Any], offset: int) -> dict[str, Any]:
        """Fold what every writer appended since the last checkpoint into the file hash."""
        while self._read < offset:
            chunk = os.pread(self._fd, min(_CHUNK, offset - self._read), self._read)
            if not chunk:
                raise OSError(0, "the audit log shrank while it was being read")
            self._file_hash.update(chunk)
            self._read += len(chunk)
        return {**fields, "file_offset": offset, "file_sha256": self._file_hash.hexdigest()}

    def _signed(self, line: bytes) -> bytes:
        doc = json.loads(line)
        doc["sig"] = base64.b64encode(self._key.sign(signed_part(doc))).decode("ascii")
        return canonical(doc)

    def _checkpoint(self, *, closing: bool) -> None:
        now = self._clock.now()
        fields = {"v": VERSION, "at": now, "key_id": self._key_id, "closing": closing}
        self._write(CHECKPOINT, fields, sync=True)
        self._unsealed = 0
        self._sealed_at = now

    def _update_head(self, line: bytes) -> None:
        """Keep this writer's latest checkpoint in the head file (under the log's lock)."""
        head = head_path(self.path)
        writers: dict[str, str] = {}
        with contextlib.suppress(FileNotFoundError):
            try:
                found = json.loads(head.read_bytes()).get("writers", {})
                writers = {str(k): str(v) for k, v in found.items()}
            except (ValueError, AttributeError):
                _log.warning("the audit head file %s was unreadable; rewriting it", head)
        writers[self.writer] = line.decode("ascii")
        temporary = head.with_name(f"{head.name}.{self.writer}.tmp")
        with open(temporary, "wb") as file:
            file.write(canonical({"writers": writers}) + b"\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, head)

    def _seal_loop(self) -> None:
        """Seal records left unsealed for ``checkpoint_seconds`` when no new record comes to do it."""
        while not self._stop.wait(self.settings.checkpoint_seconds):
            with self._lock:
                if self._closed or not self._unsealed:
                    continue
                try:
                    self._checkpoint(closing=False)
                except AuditUnavailable:
                    _log.exception("the audit log could not write a checkpoint")
