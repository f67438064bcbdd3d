"""The heavy part of every face call, in one picklable function: photo in, what was found out.

dlib's encoder holds the GIL, so face work scales with processes. :func:`read_face` is what a
flow asks to run (``Work(read_face, ...)``): a module-level function of plain values, so a
process pool can run it, returning a :class:`FaceReading` that carries no pixels. A pool's workers
start with :func:`start_worker`, which loads the models once per process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._verdict import Reason
from ._image import ImageInput
from ._models import loads, warm_up
from ._pipeline import Encoding, FaceBox, decode, encode, find
from ._quality import FaceQuality
from ._settings import FaceSettings, MultiFace

__all__ = ["FaceReading", "read_face", "start_worker", "worker_report"]


@dataclass(frozen=True, slots=True)
class FaceReading:
    """What one photo showed: the face chosen, or why none could be used, and its encoding.

    ``reason`` is None when ``encoding`` holds the chosen face's 128-d encoding; otherwise it says
    why not (no face, several faces, or the quality gate that failed). ``faces`` lists every face
    that counted, largest first, in the original photo's pixels; ``scale`` is the working pixels
    per original pixel the face was encoded at (below 1 when a large photo was decoded reduced).
    The encoding is biometric data: do not log or keep it.
    """

    reason: Reason | None
    faces: tuple[FaceBox, ...] = ()
    face: FaceBox | None = None
    quality: FaceQuality | None = None
    encoding: Encoding | None = None
    scale: float = 1.0

    @property
    def usable(self) -> bool:
        return self.reason is None and self.encoding is not None


def read_face(image: ImageInput, settings: FaceSettings, policy: MultiFace) -> FaceReading:
    """Decode within the settings' limits, find and judge the face, and encode it when usable."""
    found = find(decode(image, settings), settings, policy)
    encoding = encode(found, settings) if found.usable else None
    return FaceReading(
        reason=found.reason if encoding is not None else (found.reason or Reason.NO_FACE),
        faces=found.faces,
        face=found.face,
        quality=found.quality,
        encoding=encoding,
        scale=found.image.scale,
    )


def start_worker() -> None:
    """A process pool's initializer: load the models before the first photo arrives."""
    warm_up()


def worker_report() -> tuple[int, dict[str, int]]:
    """This process's id and how many times it built each model (for tests and monitoring)."""
    return os.getpid(), loads()
