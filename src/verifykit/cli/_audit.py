"""``verifykit audit``: make a checkpoint key pair, and verify a tamper-evident audit log.

``verify`` exits 0 when the log is intact (warnings, such as records after the last checkpoint,
are printed), 1 naming the first line that is not what the writers wrote (or when the file holds
no record, or disagrees with the newest checkpoint anchored elsewhere), 2 when it cannot run. It
says which anchored checkpoint it checked, or that none was: without an anchor, a log cut back to
an earlier checkpoint together with its head file is not found.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..auditlog import AnchorSource, VerifyReport

from . import plain_text

__all__ = ["add_log_arguments", "anchor_sources", "intact_lines", "register"]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "audit", help="tamper-evident audit log: make keys, verify a log", description=plain_text(__doc__)
    )
    commands = parser.add_subparsers(dest="audit_command", required=True, metavar="ACTION")

    keygen = commands.add_parser("keygen", help="make an Ed25519 key pair for signing checkpoints")
    keygen.add_argument(
        "--private", type=Path, required=True, metavar="FILE", help="private key (created 0600)"
    )
    keygen.add_argument(
        "--public", type=Path, required=True, metavar="FILE", help="public key, for verifying"
    )
    keygen.set_defaults(func=_keygen)

    verify = commands.add_parser("verify", help="check a log; exit 1 naming the first bad line")
    verify.add_argument("path", type=Path, metavar="PATH", help="the audit log")
    add_log_arguments(verify)
    verify.set_defaults(func=_verify)


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    """The options that say how to check a log: its key, its head file, its anchors."""
    parser.add_argument(
        "--key", "--public-key", dest="key", type=Path, required=True, metavar="PUBKEY", help="the public key"
    )
    parser.add_argument("--head", type=Path, metavar="FILE", help="head file (default: PATH.head)")
    parser.add_argument(
        "--no-head",
        action="store_true",
        help="do not check the head file (a log cut short at a line boundary then looks like a crash)",
    )
    parser.add_argument(
        "--anchor",
        action="append",
        default=[],
        metavar="URL|FILE",
        help="where checkpoints were anchored: dir:///PATH, redis://HOST:PORT/DB?stream=KEY, or a file "
        "of checkpoint lines or anchor entries (e.g. exported from syslog, which cannot be read back); "
        "the log must hold the newest checkpoint anchored for it (repeatable)",
    )


def _keygen(args: argparse.Namespace) -> int:
    from ..auditlog import write_key_pair

    kid = write_key_pair(args.private, args.public)
    print(f"key id {kid}: private key {args.private} (keep it secret), public key {args.public}")
    return 0


def _anchors(values: list[str]) -> list[str | AnchorSource]:
    from .._errors import ConfigurationError
    from ..auditlog import anchor_source_from_url

    anchors: list[str | AnchorSource] = []
    for value in values:
        if "://" in value:
            anchors.append(anchor_source_from_url(value))
            continue
        try:
            anchors += Path(value).read_text(encoding="ascii").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read the anchor file {value}") from exc
    return anchors


@contextmanager
def anchor_sources(values: list[str]) -> Iterator[list[str | AnchorSource]]:
    """The ``--anchor`` values opened (URLs) or read (files); open sources are closed after."""
    anchors = _anchors(values)
    try:
        yield anchors
    finally:
        for source in anchors:
            if not isinstance(source, str):
                source.close()


def _verify(args: argparse.Namespace) -> int:
    from ..auditlog import load_public_key, verify_log

    with anchor_sources(args.anchor) as anchors:
        report = verify_log(
            args.path, load_public_key(args.key), head=args.head, check_head=not args.no_head, anchors=anchors
        )
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.problem is not None:
        print(f"TAMPERED: {report.problem}", file=sys.stderr)
        return 1
    for line in intact_lines(report):
        print(line)
    return 0


def intact_lines(report: VerifyReport) -> list[str]:
    """What ``verify`` prints about an intact log: its size, and which anchored checkpoint was checked."""
    records = sum(w.records for w in report.writers)
    lines = [f"intact: {report.lines} lines, {records} records, {len(report.writers)} writer(s)"]
    checked = report.anchor
    if checked is None:
        lines.append("no anchor checked: a truncation back to an earlier checkpoint would not be detected")
    else:
        lines.append(
            f"anchor checked: the newest of {checked.checkpoints} checkpoint(s) anchored in "
            f"{checked.sources} "
            f"(writer {checked.writer}, seq {checked.seq}) is line {checked.line} of the log; "
            f"{checked.lines_after} line(s) after it are not anchored yet"
        )
    return lines
