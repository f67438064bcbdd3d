"""The real photos in ../shared/data/faces and small builders for test inputs."""

from __future__ import annotations

import csv
import struct
import warnings
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

#: Encodings by photo name; ``None`` where the photo had no usable face.
Encodings = dict[str, "np.ndarray[Any, Any] | None"]

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "faces"


def photo(name: str) -> bytes:
    return (DATA / name).read_bytes()


def manifest() -> list[dict[str, str]]:
    with (DATA / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def pairs() -> list[tuple[str, str, bool]]:
    with (DATA / "pairs.csv").open(newline="") as f:
        return [(r["file_a"], r["file_b"], r["same"] == "1") for r in csv.DictReader(f)]


def files_with(identity: str) -> list[str]:
    return [r["file"] for r in manifest() if r["identity"] == identity]


def with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """``jpeg`` with an APP1 Exif segment holding one Orientation tag, inserted after SOI."""
    tiff = (
        b"MM\x00\x2a"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">I", 0)
    )
    app1 = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + jpeg[2:]


def single_person_files() -> list[str]:
    return sorted({name for a, b, _ in pairs() for name in (a, b)})


def reference() -> ModuleType:
    """Plain face_recognition, the reference pipeline (its model package warns about pkg_resources)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import face_recognition
    return face_recognition
