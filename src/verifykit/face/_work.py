"""The heavy part of every face call, in one function: photo in, what was found out.

dlib's encoder holds the GIL, so face work scales with processes. :func:`read_face` is what a
flow asks to run (``Work(read_face, ...)``), returning a :class:`FaceReading` that carries no
pixels. The face workers (:mod:`verifykit.face._workers`) run it in sandboxed processes and send
the reading back as plain JSON (:func:`reading_to_wire`), which the server reads with
:func:`reading_from_wire`: a worker that a hostile photo took over can lie about a face, but it
cannot make the server run code, as an unpickled answer could.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import ImageError, InvalidInput, WorkerLost
from .._flow import Work, WorkKind
from .._verdict import Reason
from ._image import ImageInput
from ._models import loads
from ._pipeline import Encoding, FaceBox, decode, encode, find
from ._quality import FaceQuality
from ._settings import FaceSettings, MultiFace

__all__ = [
    "FaceReading",
    "face_work",
    "read_face",
    "reading_from_wire",
    "reading_to_wire",
    "status_field",
    "worker_report",
]

_DIMENSIONS = 128
_MAX_FACES = 1024


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


def _portable(image: object, max_bytes: int) -> ImageInput:
    """The photo as a value a worker process can be sent (a memoryview cannot be pickled), once
    its size is known to be within the limit: an oversized upload costs no copy and no trip."""
    if isinstance(image, bytearray | memoryview | bytes):
        size = image.nbytes if isinstance(image, memoryview) else len(image)
        if size > max_bytes:
            raise ImageError(f"image is {size:,} bytes; the limit is {max_bytes:,}")
        return image if isinstance(image, bytes) else bytes(image)
    if isinstance(image, np.ndarray):
        return image
    raise InvalidInput("a photo is encoded bytes or a numpy image array", field="image")


def face_work(image: object, settings: FaceSettings, policy: MultiFace) -> Work:
    """The step a flow yields to read ``image``: it holds the GIL and reads untrusted bytes, so
    the drivers send it to the face workers when there are some."""
    return Work(read_face, (_portable(image, settings.max_bytes), settings, policy), WorkKind.HOLDS_GIL)


def status_field(name: str) -> str:
    """A field of ``/proc/self/status`` as written there (empty when absent)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    return ""


def worker_report() -> dict[str, Any]:
    """What a face worker runs under: its process id, how many times it built each model, the
    names of its environment variables, its open descriptors, and its memory and CPU limits."""
    import resource

    return {
        "pid": os.getpid(),
        "loads": loads(),
        "environ": sorted(os.environ),
        "descriptors": sorted(int(fd) for fd in os.listdir("/proc/self/fd")),
        "data_limit": resource.getrlimit(resource.RLIMIT_DATA)[0],
        "seccomp": status_field("Seccomp"),
        "cpu_limit": resource.getrlimit(resource.RLIMIT_CPU)[0],
    }


def _box(box: FaceBox) -> list[int]:
    return [box.left, box.top, box.right, box.bottom]


def reading_to_wire(reading: FaceReading) -> dict[str, Any]:
    """A reading as JSON-ready values (floats round-trip exactly through ``repr``)."""
    quality = reading.quality
    return {
        "reason": None if reading.reason is None else reading.reason.value,
        "faces": [_box(b) for b in reading.faces],
        "face": None if reading.face is None else _box(reading.face),
        "quality": None if quality is None else [quality.face_px, quality.sharpness, quality.brightness],
        "encoding": None if reading.encoding is None else [float(v) for v in reading.encoding],
        "scale": reading.scale,
    }


def _lost(what: str) -> WorkerLost:
    return WorkerLost(f"a face worker sent a malformed answer ({what})")


def _wire_box(value: object) -> FaceBox:
    if not (
        isinstance(value, list)
        and len(value) == 4
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise _lost("box")
    return FaceBox(*value)


def _wire_floats(value: object, count: int) -> list[float]:
    if not (
        isinstance(value, list)
        and len(value) == count
        and all(isinstance(v, float | int) and not isinstance(v, bool) and math.isfinite(v) for v in value)
    ):
        raise _lost("numbers")
    return [float(v) for v in value]


def reading_from_wire(data: object) -> FaceReading:
    """The reading :func:`reading_to_wire` made, checked field by field: the worker that made it
    read an untrusted photo, so nothing it says is taken on trust."""
    if not isinstance(data, dict) or set(data) != {"reason", "faces", "face", "quality", "encoding", "scale"}:
        raise _lost("fields")
    try:
        reason = None if data["reason"] is None else Reason(data["reason"])
    except ValueError:
        raise _lost("reason") from None
    faces = data["faces"]
    if not isinstance(faces, list) or len(faces) > _MAX_FACES:
        raise _lost("faces")
    quality = data["quality"]
    encoding = data["encoding"]
    scale = data["scale"]
    if not isinstance(scale, float) or not 0.0 < scale <= 1.0:
        raise _lost("scale")
    return FaceReading(
        reason=reason,
        faces=tuple(_wire_box(b) for b in faces),
        face=None if data["face"] is None else _wire_box(data["face"]),
        quality=None if quality is None else FaceQuality(*_wire_floats(quality, 3)),
        encoding=None if encoding is None else np.asarray(_wire_floats(encoding, _DIMENSIONS), np.float64),
        scale=scale,
    )
