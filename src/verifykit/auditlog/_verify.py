"""The checking side: :func:`verify_log` reads a log line by line and names the first line that
is not what the writers wrote.

What counts as what:

- **Tampering** (``report.problem``): a line that is not canonical JSON of the log's shape; a
  chain that skips, repeats or reorders a sequence number, or whose ``prev`` is not the hash of
  the writer's line before; a chain that does not open with a checkpoint; a line after a
  writer's closing checkpoint; a checkpoint signed by another key, with a bad signature, or
  whose file offset or file hash does not match the bytes above it; a log that ends before, or
  differs at, a checkpoint kept in the head file or the newest one anchored elsewhere; a
  missing head file; a file with no line a writer wrote (empty, or not an audit log); a torn
  line that cannot be a writer's last line (see below).
- **Warnings** (the log is intact as far as it can tell): a torn line that is a writer's last
  line; records after a writer's last checkpoint (*unsealed*: a writer still running or one that
  crashed; anyone who can write the file could have changed those undetected); a writer that
  never wrote its closing checkpoint.

Torn lines. A writer that dies inside ``write`` leaves the start of a line; the next writer ends
it with a newline; the dead writer never writes again, and a writer whose own write failed
part-way goes on only as a new writer. So a torn line is accepted only where it can be its
writer's last line: it is the start of a line a writer writes (``{"action":…`` or ``{"at":…``,
printable ASCII, not JSON), and a writer it can belong to has no line after it: the writer
whose chain its ``prev`` continues, when the fragment holds a whole ``prev``; otherwise a writer
not yet closed, with no line after it, that no other torn line claims, or (for the start of a
checkpoint) a writer that died writing its first line.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .._errors import ConfigurationError
from ._anchors import AnchorSource, checkpoints_in, log_id
from ._format import CHECKPOINT, GENESIS, RECORD, VERSION, canonical, line_hash, signed_part
from ._keys import key_id
from ._writer import head_path

__all__ = ["AnchorCheck", "Problem", "VerifyReport", "WriterSummary", "verify_log"]

_PREV = re.compile(rb'"prev":"([0-9a-f]{64})"')
_FILE_OFFSET = re.compile(rb'^\{"at":[^,]*,"closing":(?:true|false),"file_offset":([0-9]+),')
_LINE_STARTS = (b'{"action":', b'{"at":')  # a record's first key, a checkpoint's first key


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
class AnchorCheck:
    """The anchored checkpoint the log was checked against: the newest of ``checkpoints``
    anchored for this log in ``sources``; ``line`` is where the log holds it (None when it does
    not), ``lines_after`` the log's lines after it, which no anchor covers yet."""

    sources: str
    log: str
    checkpoints: int
    writer: str
    seq: int
    offset: int
    line: int | None
    lines_after: int


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What :func:`verify_log` found: ``ok`` when no line was tampered with.

    ``anchor`` is the anchored checkpoint checked; None when no anchor was checked, and then a
    log cut back to an earlier checkpoint together with its head file would pass.
    """

    problem: Problem | None
    writers: tuple[WriterSummary, ...]
    warnings: tuple[str, ...]
    lines: int
    anchor: AnchorCheck | None = None

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
class _Torn:
    number: int
    chain: _Chain | None  # the chain its prev continues, when the fragment shows it
    opening: bool  # it may be the first line of a writer that died writing it (no chain to end)


@dataclass(slots=True)
class _Reader:
    public_key: Ed25519PublicKey
    key_id: str
    chains: dict[str, _Chain] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    offset: int = 0
    file_hash: Any = field(default_factory=hashlib.sha256)
    torn: list[_Torn] = field(default_factory=list)
    checkpoint_lines: dict[int, int] = field(default_factory=dict)  # offset -> line number

    def line(self, number: int, raw: bytes) -> dict[str, Any] | None:
        """Check one line; the line as read, or None for a torn one (it holds nothing)."""
        body = raw[:-1] if raw.endswith(b"\n") else raw
        try:
            doc = json.loads(body)
        except ValueError:
            # A prefix of a JSON object is never JSON: what a writer leaves when it stops mid-line.
            self._torn_line(number, body)
            return None
        if not isinstance(doc, dict) or canonical(doc) != body or not _shaped(doc):
            raise _Bad(_not_a_line(number, bool(self.chains)))
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
            self.checkpoint_lines[doc["file_offset"]] = number
        else:
            chain.records += 1
            if not chain.unsealed:
                chain.first_unsealed = number
            chain.unsealed += 1
        chain.next_seq, chain.prev, chain.prev_line = seq + 1, line_hash(body), number
        return doc

    def _torn_line(self, number: int, body: bytes) -> None:
        starts = [start for start in _LINE_STARTS if start.startswith(body) or body.startswith(start)]
        if not body or not starts or not all(0x20 <= b < 0x7F for b in body):
            raise _Bad(_not_a_line(number, bool(self.chains)))
        opening = _LINE_STARTS[1] in starts  # may be the start of a checkpoint
        sealed_at = _FILE_OFFSET.match(body)
        if sealed_at is not None and int(sealed_at.group(1)) != self.offset:
            raise _Bad(Problem("a torn checkpoint that does not start where it says (inserted)", number))
        chain = None
        prev = _PREV.search(body)
        if prev is not None and prev.group(1).decode() == GENESIS:
            if not opening:
                raise _Bad(Problem("a torn record that opens a chain (inserted)", number))
        elif prev is not None:
            found = [c for c in self.chains.values() if c.prev == prev.group(1).decode() and not c.closed]
            if not found:
                raise _Bad(Problem("a torn line that continues no writer's chain (inserted)", number))
            chain, opening = found[0], False
        self.torn.append(_Torn(number, chain, opening))

    def torn_lines(self) -> Problem | None:
        """Check, once the whole log is read, that every torn line can be its writer's last line."""
        claimed = {torn.chain.writer for torn in self.torn if torn.chain is not None}
        for torn in self.torn:
            if torn.chain is not None and torn.chain.prev_line > torn.number:
                return Problem(
                    f"torn, yet its writer wrote on after it (line {torn.chain.prev_line}): "
                    "a writer never continues after a torn line of its own",
                    torn.number,
                    torn.chain.writer,
                )
            if torn.chain is None and not torn.opening:
                ended = [
                    c
                    for c in self.chains.values()
                    if c.prev_line < torn.number and not c.closed and c.writer not in claimed
                ]
                if not ended:
                    return Problem(
                        "torn, but no writer can have stopped there (each writer before it wrote on, "
                        "closed, or already left a torn line): altered or inserted",
                        torn.number,
                    )
                claimed.add(ended[0].writer)
            self.warnings.append(
                f"line {torn.number} is torn (a writer stopped mid-write: its last line); it holds no record"
            )
        return None

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


def _not_a_line(number: int, after_a_writer: bool) -> Problem:
    if number == 1 and not after_a_writer:
        return Problem(
            "not a line an audit writer writes: this is not an audit log, or its start was altered", 1
        )
    return Problem("not a line a writer writes (altered or inserted)", number)


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


def _head_lines(head: Path) -> tuple[list[tuple[str, str]], Problem | None]:
    """The checkpoint lines kept in the head file, each with where it came from."""
    try:
        doc = json.loads(head.read_bytes())
        writers = doc["writers"]
        return [(str(line), f"the head file {head.name}") for line in writers.values()], None
    except FileNotFoundError:
        return [], Problem(f"the head file {head} is missing: the log may have been cut short")
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return [], Problem(f"the head file {head} is unreadable")


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


def _anchored(
    anchors: list[str | AnchorSource], log: str
) -> tuple[list[tuple[str, str, dict[str, Any]]], str, Problem | None]:
    """Every checkpoint anchored for ``log``: (line, origin, parsed), and the sources' names."""
    named = [("an anchor" if isinstance(a, str) else f"the anchor {a}", a) for a in anchors]
    sources = ", ".join(dict.fromkeys(origin for origin, _ in named))
    lines = [line for _origin, a in named if isinstance(a, str) for line in checkpoints_in([a], log)]
    found = [(line, "an anchor") for line in lines]
    for origin, source in named:
        if not isinstance(source, str):
            found += [(line, origin) for line in source.checkpoints(log)]
    parsed = []
    for line, origin in found:
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict) or not isinstance(doc.get("file_offset"), int):
                raise ValueError(line)
        except ValueError:
            return [], sources, Problem(f"{origin} holds a line that is not a checkpoint")
        parsed.append((line, origin, doc))
    return parsed, sources, None


def _check_newest_anchor(
    reader: _Reader,
    anchors: list[str | AnchorSource],
    *,
    first_line: bytes,
    lines: int,
    data_at: Any,
    size: int,
) -> tuple[AnchorCheck | None, Problem | None]:
    """Check the log against the newest checkpoint anchored for it (it seals all before it)."""
    log = log_id(first_line)
    found, sources, problem = _anchored(anchors, log)
    if problem is not None:
        return None, problem
    if not found:
        return None, Problem(
            f"{sources} holds no checkpoint of this log (log id {log}): a truncation cannot be ruled out"
        )
    line, origin, doc = max(found, key=lambda item: int(item[2]["file_offset"]))
    if not (
        canonical(doc) == line.encode("ascii", "replace")
        and _shaped(doc)
        and doc["kind"] == CHECKPOINT
        and doc["key_id"] == reader.key_id
        and _signature_ok(reader.public_key, doc)
    ):
        return None, Problem(
            f"the newest checkpoint in {origin} is not one this key signed: "
            "the anchor was altered, or it belongs to another key"
        )
    at = reader.checkpoint_lines.get(doc["file_offset"])
    check = AnchorCheck(
        sources,
        log,
        len(found),
        doc["writer"],
        doc["seq"],
        doc["file_offset"],
        at,
        0 if at is None else lines - at,
    )
    return check, _check_anchor(data_at, size, line, origin)


def _check_kept(
    reader: _Reader,
    file: BinaryIO,
    head_file: Path | None,
    anchors: list[str | AnchorSource],
    *,
    first_line: bytes,
    lines: int,
) -> tuple[AnchorCheck | None, Problem | None]:
    """Check the log against the checkpoints kept in its head file, then the anchored ones."""
    size = os.fstat(file.fileno()).st_size

    def data_at(offset: int, length: int) -> bytes:
        file.seek(offset)
        return file.read(length)

    if head_file is not None:
        found, problem = _head_lines(head_file)
        for line, origin in found:
            if problem is not None:
                break
            problem = _check_anchor(data_at, size, line, origin)
        if problem is not None:
            return None, problem
    if not anchors:
        return None, None
    return _check_newest_anchor(
        reader, anchors, first_line=first_line, lines=lines, data_at=data_at, size=size
    )


def verify_log(
    path: str | Path,
    public_key: Ed25519PublicKey,
    *,
    head: Path | None = None,
    check_head: bool = True,
    anchors: Iterable[str | AnchorSource] = (),
    on_line: Callable[[dict[str, Any]], None] | None = None,
) -> VerifyReport:
    """Check the log at ``path`` against the checkpoint key ``public_key``.

    ``head`` is the head file (default ``PATH.head``). ``check_head=False`` skips it, and then a
    log cut short at a line boundary cannot be told from a crash. ``anchors`` are where
    checkpoints were kept elsewhere: :class:`~verifykit.auditlog.AnchorSource` objects (see
    ``anchor_source_from_url``) and lines (checkpoint lines, taken to be this log's, or anchor
    entries, kept when they name this log). The newest checkpoint anchored for this log must be
    signed by ``public_key`` and held by the log byte for byte where it says it starts; its
    result is ``report.anchor``. Anchors given that hold no checkpoint of this log are a problem.

    ``on_line`` is called with each whole line (records and checkpoints, parsed) as the check
    reads it, so that a caller can gather what the log says in the same pass, from the very
    bytes checked. What it gathered counts only when the report is ``ok``: a line it was given
    may be followed by the one that shows the log was tampered with.
    """
    path = Path(path)
    head_file = None if not check_head else head if head is not None else head_path(path)
    anchor_list = list(anchors)
    reader = _Reader(public_key, key_id(public_key))
    number = 0
    first_line = b""
    problem: Problem | None = None
    anchor: AnchorCheck | None = None
    try:
        file = path.open("rb")
    except OSError as exc:
        raise ConfigurationError(f"cannot read the audit log {path}: {exc.strerror}") from exc
    with file:
        for number, raw in enumerate(file, start=1):
            if number == 1:
                first_line = raw.removesuffix(b"\n")
            try:
                doc = reader.line(number, raw)
            except _Bad as bad:
                problem = bad.problem
                break
            if doc is not None and on_line is not None:
                on_line(doc)
            reader.offset += len(raw)
            reader.file_hash.update(raw)
        if problem is None and not reader.chains:
            problem = Problem(
                "the file is empty: it holds no audit record"
                if number == 0
                else "no line of this file is one an audit writer wrote whole: not an intact audit log"
            )
        if problem is None:
            problem = reader.torn_lines()
        if problem is None:
            anchor, problem = _check_kept(
                reader, file, head_file, anchor_list, first_line=first_line, lines=number
            )
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
    summaries = tuple(c.summary() for c in reader.chains.values())
    return VerifyReport(problem, summaries, tuple(warnings), number, anchor)
