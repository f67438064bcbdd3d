"""The checking side: :func:`verify_log` reads a log line by line and names the first line that
is not what the writers wrote.

What counts as what:

- **Tampering** (``report.problem``): a line that is not canonical JSON of the log's shape; a
  chain that skips, repeats or reorders a sequence number, or whose ``prev`` is not the hash of
  the writer's line before; a chain that does not open with a checkpoint; a line after a
  writer's closing checkpoint; a checkpoint signed by another key, with a bad signature, or
  whose file offset or file hash does not match the bytes above it; a log that ends before, or
  differs at, a checkpoint kept in the head file or given as an anchor; a missing head file.
- **Warnings** (the log is intact as far as it can tell): a torn line (not JSON: a writer
  stopped mid-write; the next writer ended it with a newline); records after a writer's last
  checkpoint (*unsealed*: a writer still running or one that crashed; anyone who can write the
  file could have changed those undetected); a writer that never wrote its closing checkpoint.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._errors import ConfigurationError
from ._format import CHECKPOINT, GENESIS, RECORD, VERSION, canonical, line_hash, signed_part
from ._keys import key_id
from ._writer import head_path

__all__ = ["Problem", "VerifyReport", "WriterSummary", "verify_log"]


@dataclass(frozen=True, slots=True)
class Problem:
    """The first line found not what the writers wrote; ``line`` is 1-based (None: the whole file)."""

    message: str
    line: int | None = None
    writer: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        where = [] if self.line is None else [f"line {self.line}"]
        if self.writer is not None:
            where.append(f"writer {self.writer}")
        if self.seq is not None:
            where.append(f"seq {self.seq}")
        return f"{', '.join(where)}: {self.message}" if where else self.message


@dataclass(frozen=True, slots=True)
class WriterSummary:
    """One writer's chain as read: lines, the records after its last checkpoint, whether it closed."""

    writer: str
    lines: int
    records: int
    unsealed: int
    closed: bool


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify_log` found: ``ok`` when no line was tampered with."""

    problem: Problem | None
    writers: tuple[WriterSummary, ...]
    warnings: tuple[str, ...]
    lines: int

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(slots=True)
class _Chain:
    writer: str
    next_seq: int = 0
    prev: str = GENESIS
    prev_line: int = 0
    records: int = 0
    unsealed: int = 0
    first_unsealed: int = 0
    closed: bool = False

    def summary(self) -> WriterSummary:
        return WriterSummary(self.writer, self.next_seq, self.records, self.unsealed, self.closed)


class _Bad(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.message)
        self.problem = problem


@dataclass(slots=True)
class _Reader:
    public_key: Ed25519PublicKey
    key_id: str
    chains: dict[str, _Chain] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    offset: int = 0
    file_hash: Any = field(default_factory=hashlib.sha256)

    def line(self, number: int, raw: bytes) -> None:
        body = raw[:-1]
        try:
            doc = json.loads(body)
        except ValueError:
            # A prefix of a JSON object is never JSON: what a writer leaves when it stops mid-line.
            self.warnings.append(f"line {number} is torn (a writer stopped mid-write); it holds no record")
            return
        if not isinstance(doc, dict) or canonical(doc) != body or not _shaped(doc):
            raise _Bad(Problem("not a line a writer writes (altered or inserted)", number))
        writer, seq = doc["writer"], doc["seq"]
        chain = self.chains.get(writer)
        if chain is None:
            if seq != 0 or doc["prev"] != GENESIS:
                raise _Bad(Problem("the lines of this writer before it were removed", number, writer, seq))
            if doc["kind"] != CHECKPOINT:
                raise _Bad(
                    Problem(
                        "a writer's first line is a checkpoint: this one was inserted", number, writer, seq
                    )
                )
            chain = self.chains[writer] = _Chain(writer)
        self._follows(chain, number, doc)
        if doc["kind"] == CHECKPOINT:
            self._checkpoint(chain, number, doc)
        else:
            chain.records += 1
            if not chain.unsealed:
                chain.first_unsealed = number
            chain.unsealed += 1
        chain.next_seq, chain.prev, chain.prev_line = seq + 1, line_hash(body), number

    def _follows(self, chain: _Chain, number: int, doc: dict[str, Any]) -> None:
        seq = doc["seq"]
        bad = None
        if chain.closed:
            bad = "written after this writer's closing checkpoint (inserted)"
        elif seq < chain.next_seq:
            bad = f"sequence number goes back (expected {chain.next_seq}): lines reordered or one inserted"
        elif seq > chain.next_seq:
            gap = f"{chain.next_seq}" if seq == chain.next_seq + 1 else f"{chain.next_seq}-{seq - 1}"
            bad = f"sequence number(s) {gap} missing before it: lines removed or reordered"
        elif doc["prev"] != chain.prev:
            bad = (
                f"does not follow line {chain.prev_line} (its hash differs): line {chain.prev_line} "
                "was changed, or this line was forged"
            )
        if bad is not None:
            raise _Bad(Problem(bad, number, chain.writer, seq))

    def _checkpoint(self, chain: _Chain, number: int, doc: dict[str, Any]) -> None:
        writer, seq = chain.writer, doc["seq"]
        bad = None
        if doc["v"] != VERSION:
            bad = f"checkpoint format {doc['v']} is not known"
        elif doc["key_id"] != self.key_id:
            bad = f"checkpoint signed by another key (key id {doc['key_id']}, expected {self.key_id})"
        elif not _signature_ok(self.public_key, doc):
            bad = "checkpoint signature does not verify: the checkpoint was forged or altered"
        elif doc["file_offset"] != self.offset:
            bad = (
                f"checkpoint sealed the file at byte {doc['file_offset']} but starts at byte {self.offset}: "
                "lines above it were removed or inserted"
            )
        elif doc["file_sha256"] != self.file_hash.hexdigest():
            bad = (
                "the lines above this checkpoint changed after it sealed them (edited, removed or reordered)"
            )
        if bad is not None:
            raise _Bad(Problem(bad, number, writer, seq))
        chain.unsealed = 0
        chain.closed = bool(doc["closing"])


_RECORD_FIELDS: dict[str, type] = {"kind": str, "writer": str, "seq": int, "prev": str}
_CHECKPOINT_FIELDS: dict[str, type | tuple[type, ...]] = {
    "v": int,
    "at": (int, float),
    "key_id": str,
    "closing": bool,
    "file_offset": int,
    "file_sha256": str,
    "sig": str,
}


def _shaped(doc: dict[str, Any]) -> bool:
    if not all(isinstance(doc.get(k), t) for k, t in _RECORD_FIELDS.items()):
        return False
    if isinstance(doc["seq"], bool) or doc["seq"] < 0:
        return False
    if doc["kind"] == RECORD:
        return True
    return doc["kind"] == CHECKPOINT and all(isinstance(doc.get(k), t) for k, t in _CHECKPOINT_FIELDS.items())


def _signature_ok(public_key: Ed25519PublicKey, doc: dict[str, Any]) -> bool:
    try:
        public_key.verify(base64.b64decode(doc["sig"], validate=True), signed_part(doc))
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


def _anchors(
    path: Path, head: Path | None, extra: Iterable[str]
) -> tuple[list[tuple[str, str]], Problem | None]:
    """Checkpoint lines the log must still hold, each with where it came from."""
    found = [(line.strip(), "an anchor") for line in extra if line.strip()]
    if head is None:
        return found, None
    try:
        doc = json.loads(head.read_bytes())
        writers = doc["writers"]
        found += [(str(line), f"the head file {head.name}") for line in writers.values()]
    except FileNotFoundError:
        return found, Problem(f"the head file {head} is missing: the log may have been cut short")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return found, Problem(f"the head file {head} is unreadable")
    return found, None


def _check_anchor(data_at: Any, size: int, line: str, origin: str) -> Problem | None:
    try:
        doc = json.loads(line)
        writer, seq, offset = str(doc["writer"]), int(doc["seq"]), int(doc["file_offset"])
    except (ValueError, KeyError, TypeError):
        return Problem(f"{origin} holds a line that is not a checkpoint")
    expected = line.encode("ascii") + b"\n"
    where = f"its checkpoint seq {seq} at byte {offset} (kept in {origin})"
    if size < offset + len(expected):
        return Problem(f"the log ends before {where}: it was truncated", writer=writer, seq=seq)
    if data_at(offset, len(expected)) != expected:
        return Problem(f"the log does not hold {where}: it was rewritten", writer=writer, seq=seq)
    return None


def verify_log(
    path: str | Path,
    public_key: Ed25519PublicKey,
    *,
    head: Path | None = None,
    check_head: bool = True,
    anchors: Iterable[str] = (),
) -> VerifyReport:
    """Check the log at ``path`` against the checkpoint key ``public_key``.

    ``head`` is the head file (default ``PATH.head``). ``check_head=False`` skips it, and then a
    log cut short at a line boundary cannot be told from a crash. ``anchors`` are checkpoint lines kept
    elsewhere (shipped off the host), each of which the log must still hold byte for byte.
    """
    path = Path(path)
    head_file = None if not check_head else head if head is not None else head_path(path)
    reader = _Reader(public_key, key_id(public_key))
    number = 0
    problem: Problem | None = None
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the audit log {path}: {exc.strerror}") from exc
    with file:
        for number, raw in enumerate(file, start=1):
            if not raw.endswith(b"\n"):
                reader.warnings.append(
                    f"line {number} is torn (a writer stopped mid-write at the end of the log); "
                    "verified up to the line before it"
                )
                break
            try:
                reader.line(number, raw)
            except _Bad as bad:
                problem = bad.problem
                break
            reader.offset += len(raw)
            reader.file_hash.update(raw)
        if problem is None:
            size = path.stat().st_size

            def data_at(offset: int, length: int) -> bytes:
                file.seek(offset)
                return file.read(length)

            found, problem = _anchors(path, head_file, anchors)
            if problem is not None and not reader.chains:
                problem = None  # an empty log has no head yet
            for line, origin in found:
                if problem is not None:
                    break
                problem = _check_anchor(data_at, size, line, origin)
    warnings = list(reader.warnings)
    for chain in reader.chains.values():
        if chain.unsealed:
            warnings.append(
                f"writer {chain.writer}: {chain.unsealed} record(s) from line {chain.first_unsealed} on are "
                "unsealed (after its last checkpoint; a writer still running or one that crashed): "
                "not covered by a signature"
            )
        if not chain.closed:
            warnings.append(f"writer {chain.writer} has no closing checkpoint (still running, or it crashed)")
    if head_file is None:
        warnings.append("no head file checked: a log cut short at a line boundary looks like a crash")
    return VerifyReport(problem, tuple(c.summary() for c in reader.chains.values()), tuple(warnings), number)
