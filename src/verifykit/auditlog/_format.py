"""The log's lines: canonical JSON, the hash that chains them, what a checkpoint signs.

Every line is one JSON object, keys sorted, no spaces, ASCII only, so its bytes are exactly
reproducible. A line's hash is the SHA-256 of those bytes (without the newline); each line of a
writer's chain holds the hash of that writer's previous line in ``prev``. A checkpoint's
signature covers all its other fields, written the same canonical way.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["CHECKPOINT", "GENESIS", "RECORD", "canonical", "line_hash", "signed_part"]

RECORD = "record"
CHECKPOINT = "checkpoint"
#: ``prev`` of a chain's first line.
GENESIS = "0" * 64
#: The format version, in every checkpoint (what its signature covers may change with it).
VERSION = 1


def canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def signed_part(checkpoint: dict[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: the checkpoint without ``sig``."""
    return b"verifykit-audit-checkpoint\x00" + canonical({k: v for k, v in checkpoint.items() if k != "sig"})
