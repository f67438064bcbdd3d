"""A tamper-evident audit log: hash-chained JSON lines with signed checkpoints.

:class:`AuditLog` is an audit sink (``audit=`` of any verifier, ``verifykit serve
--audit-file``) that writes each decision before it takes effect; :func:`verify_log` (and
``verifykit audit verify``) finds any line edited, removed, reordered or inserted, and a log cut
short before its last checkpoint; with anchors (copies of the checkpoints kept in a second
place: a directory, a Redis stream, syslog), also a log cut back with its head file. See
docs/audit-log.md.

:func:`read_verified` reads a verified log's records back as audit events, and
:func:`insights` (pure) counts where people got stuck in them (``verifykit report``; see
docs/insights.md).
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
from ._insights import (
    RESCUE_WAYS,
    BucketFigures,
    Durations,
    EventLike,
    Figures,
    Insights,
    PlotSeries,
    bucket_start,
    insights,
    plot_series,
    render_table,
)
from ._keys import key_id, load_private_key, load_public_key, parse_private_key, write_key_pair
from ._read import VerifiedLog, read_verified
from ._verify import AnchorCheck, Problem, VerifyReport, WriterSummary, verify_log
from ._writer import AuditLog, AuditLogSettings, head_path

__all__ = [
    "RESCUE_WAYS",
    "Anchor",
    "AnchorCheck",
    "AnchorSource",
    "AnchorStatus",
    "AuditLog",
    "AuditLogSettings",
    "BucketFigures",
    "DirectoryAnchor",
    "Durations",
    "EventLike",
    "Figures",
    "Insights",
    "PlotSeries",
    "Problem",
    "RedisAnchor",
    "SyslogAnchor",
    "VerifiedLog",
    "VerifyReport",
    "WriterSummary",
    "anchor_from_url",
    "anchor_source_from_url",
    "bucket_start",
    "head_path",
    "insights",
    "key_id",
    "load_private_key",
    "load_public_key",
    "parse_private_key",
    "plot_series",
    "read_verified",
    "render_table",
    "verify_log",
    "write_key_pair",
]
