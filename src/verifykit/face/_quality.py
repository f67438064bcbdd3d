"""Quality gates: is this face usable, and if not, what should the person change?

Each gate has its own reason (``face_too_small``, ``too_dark``, ``too_bright``, ``blurry``) so a
caller can say "move closer", "find more light" or "hold still" instead of "try again".
Measurements are taken on the face alone, resized to a fixed size, so they mean the same
thing for a 250-pixel crop and a 12-megapixel photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from .._verdict import Reason
from ._settings import FaceSettings

__all__ = ["FaceQuality", "judge", "measure"]

_PATCH = 96


@dataclass(frozen=True, slots=True)
class FaceQuality:
    """Measurements of one face.

    ``face_px``: box width in the original photo's pixels. ``sharpness``: variance of the
    Laplacian of the face at 96x96 grey (higher is sharper). ``brightness``: mean grey level 0-255.
    """

    face_px: float
    sharpness: float
    brightness: float


def measure(rgb: npt.NDArray[np.uint8], box: tuple[int, int, int, int], scale: float) -> FaceQuality:
    """Measure the face in ``box`` (left, top, right, bottom in ``rgb``'s pixels).

    ``scale`` is ``rgb``'s pixels per original pixel, to report the size in the original photo.
    """
    import cv2

    left, top, right, bottom = box
    height, width = rgb.shape[:2]
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width), min(bottom, height)
    face_px = (box[2] - box[0]) / scale
    if right - left < 2 or bottom - top < 2:
        return FaceQuality(face_px=face_px, sharpness=0.0, brightness=0.0)
    grey = cv2.cvtColor(rgb[top:bottom, left:right], cv2.COLOR_RGB2GRAY)
    patch = cv2.resize(grey, (_PATCH, _PATCH), interpolation=cv2.INTER_AREA)
    sharpness = float(cv2.Laplacian(patch, cv2.CV_64F).var())
    return FaceQuality(face_px=face_px, sharpness=sharpness, brightness=float(patch.mean()))


def judge(quality: FaceQuality, settings: FaceSettings) -> Reason | None:
    """The first gate the face fails, or None when it passes all.

    Exposure is judged before sharpness: a dark face also has little contrast, and "find more
    light" is the advice that fixes both.
    """
    if quality.face_px < settings.min_face_px:
        return Reason.FACE_TOO_SMALL
    if quality.brightness < settings.min_brightness:
        return Reason.TOO_DARK
    if quality.brightness > settings.max_brightness:
        return Reason.TOO_BRIGHT
    if quality.sharpness < settings.min_sharpness:
        return Reason.BLURRY
    return None
