"""A tamper-evident audit log: hash-chained JSON lines with signed checkpoints.

:class:`AuditLog` is an audit sink (``audit=`` of any verifier, ``verifykit serve
--audit-file``) that writes each decision before it takes effect; :func:`verify_log` (and
``verifykit audit verify``) finds any line edited, removed, reordered or inserted, and a log cut
short before its last checkpoint; with anchors (copies of the checkpoints kept in a second
place: a directory, a Redis stream, syslog), also a log cut back with its head file. See
docs/audit-log.md.
"""

from ._anchors import (
    Anchor,
    AnchorSource,
    AnchorStatus,
    DirectoryAnchor,
    RedisAnchor,
    SyslogAnchor,
    anchor_from_url,
    anchor_source_from_url,
)
from ._keys import key_id, load_private_key, load_public_key, parse_private_key, write_key_pair
from ._verify import AnchorCheck, Problem, VerifyReport, WriterSummary, verify_log
from ._writer import AuditLog, AuditLogSettings, head_path

__all__ = [
    "Anchor",
    "AnchorCheck",
    "AnchorSource",
    "AnchorStatus",
    "AuditLog",
    "AuditLogSettings",
    "DirectoryAnchor",
    "Problem",
    "RedisAnchor",
    "SyslogAnchor",
    "VerifyReport",
    "WriterSummary",
    "anchor_from_url",
    "anchor_source_from_url",
    "head_path",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_private_key",
    "verify_log",
    "write_key_pair",
]
