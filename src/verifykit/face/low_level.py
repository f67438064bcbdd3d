"""The face pipeline's stages one by one, below :class:`~verifykit.face.FaceVerifier`.

For tools that measure or inspect the stages (``verifykit bench face``): decode, detect, find,
encode, compare, seal, and the shared worker pool that runs them. Nothing here applies the
verifier's rules (rate limits, lockout, verdicts, audit); to verify a person, use
:class:`~verifykit.face.FaceVerifier`.
"""

from ._core import distance
from ._pipeline import decode, detect, encode, find
from ._template import open_template, seal_template
from ._work import read_face
from ._workers import shared_workers

__all__ = [
    "decode",
    "detect",
    "distance",
    "encode",
    "find",
    "open_template",
    "read_face",
    "seal_template",
    "shared_workers",
]
