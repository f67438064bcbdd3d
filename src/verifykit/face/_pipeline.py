"""Photo in, one face's 128-d encoding out: decode, detect, choose, judge, encode.

Detection is the expensive step that scales with the photo (dlib's HOG scans every position at
every scale), so it runs on a copy whose longer side is at most ``detect_max_side``; boxes are
mapped back. The 5-point landmarks and the ResNet encoding then use the decoded photo itself:
the encoder cuts a 150-pixel aligned face crop, and dlib builds that crop from an image pyramid,
so a large face loses nothing and a small one is not upsampled twice. With the same image and
box, :func:`encode_face` computes exactly what ``face_recognition.face_encodings`` computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._errors import InvalidInput
from .._verdict import Reason
from ._image import DecodedImage, ImageInput, RGBImage, load_image
from ._models import detector, encoder, landmark_predictor
from ._quality import FaceQuality, judge, measure
from ._settings import FaceSettings, MultiFace

__all__ = ["Encoding", "FaceBox", "Found", "decode", "detect", "encode", "encode_face", "find"]

Encoding = npt.NDArray[np.float64]
Rect = tuple[int, int, int, int]  # left, top, right, bottom in some image's pixels
_NEAR_TIE = 0.9
_HOG_WINDOW = 80  # dlib's frontal face detector scans an 80 x 80 window


@dataclass(frozen=True, slots=True)
class FaceBox:
    """A face's box in the original (upright) photo's pixels."""

    left: int
    top: int
    right: int
    bottom: int

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def height(self) -> int:
        return self.bottom - self.top


@dataclass(frozen=True, slots=True)
class Found:
    """The outcome of looking for one usable face in a photo.

    ``reason`` is None when ``face`` can be encoded; otherwise it says why not (no face, several
    faces, or the quality gate that failed). ``faces`` lists every face that counted, largest first.
    """

    image: DecodedImage
    faces: tuple[FaceBox, ...]
    reason: Reason | None
    face: FaceBox | None = None
    quality: FaceQuality | None = None
    rect: Rect | None = None

    @property
    def usable(self) -> bool:
        return self.reason is None and self.rect is not None


def _dlib() -> Any:
    import dlib

    return dlib


def _width(rect: Rect) -> int:
    return rect[2] - rect[0]


def _to_box(rect: Rect, scale: float) -> FaceBox:
    return FaceBox(*(round(v / scale) for v in rect))


def _main_face(rects: list[Rect], width: int, height: int) -> Rect:
    """The largest face; among faces within 10% of its width, the one nearest the centre.

    HOG box sizes come in steps, so two faces of nearly equal size are a tie, and the person a
    photo was taken of stands in the middle of it.
    """
    near = [r for r in rects if _width(r) >= _NEAR_TIE * _width(rects[0])]
    return min(
        near, key=lambda r: ((r[0] + r[2]) / 2 - width / 2) ** 2 + ((r[1] + r[3]) / 2 - height / 2) ** 2
    )


def decode(image: ImageInput, settings: FaceSettings) -> DecodedImage:
    """Decode within the settings' limits; a large JPEG comes back reduced (see ``work_min_side``)."""
    return load_image(
        image,
        max_bytes=settings.max_bytes,
        max_pixels=settings.max_pixels,
        max_decoded_bytes=settings.max_decoded_bytes,
        max_jpeg_scans=settings.max_jpeg_scans,
        work_min_side=settings.work_min_side,
    )


def detect(rgb: RGBImage, settings: FaceSettings, max_side: int | None = None) -> list[Rect]:
    """Face boxes in ``rgb``'s pixels, largest first, found on a copy whose longer side is at most
    ``max_side`` (default ``detect_max_side``)."""
    import cv2

    height, width = rgb.shape[:2]
    side = settings.detect_max_side if max_side is None else max_side
    factor = min(1.0, side / max(height, width))
    if factor < 1.0:
        small = cv2.resize(
            rgb,
            (max(1, round(width * factor)), max(1, round(height * factor))),
            interpolation=cv2.INTER_AREA,
        )
        sx, sy = small.shape[1] / width, small.shape[0] / height
    else:
        small, sx, sy = rgb, 1.0, 1.0
    with detector() as hog:
        found = None
        if settings.detect_upsample > 0:
            # A coarse pass without upsampling costs a quarter as much and finds every face of at
            # least _HOG_WINDOW pixels. When the widest face is so large that any face counting
            # beside it (background_face_ratio) would also be that large, it found all that matter.
            coarse = hog(small, 0)
            widest = max((r.width() for r in coarse), default=0)
            if coarse and settings.background_face_ratio * widest >= _HOG_WINDOW:
                found = coarse
        if found is None:
            found = hog(small, settings.detect_upsample)
    rects: list[Rect] = [
        (round(r.left() / sx), round(r.top() / sy), round(r.right() / sx), round(r.bottom() / sy))
        for r in found
    ]
    rects.sort(key=_width, reverse=True)
    return rects


def find(
    image: DecodedImage, settings: FaceSettings, policy: MultiFace, rects: list[Rect] | None = None
) -> Found:
    """Detect (unless ``rects`` from :func:`detect` are given), apply the several-faces policy,
    and judge the chosen face's quality."""
    if rects is None:
        rects = detect(image.rgb, settings)
    if not rects and max(image.rgb.shape[:2]) > settings.detect_max_side:
        # Before answering no_face, look once more at twice the size: it finds faces down to half
        # the size, at four times the cost, paid only by photos that would otherwise be refused.
        rects = detect(image.rgb, settings, 2 * settings.detect_max_side)
    if not rects:
        return Found(image=image, faces=(), reason=Reason.NO_FACE)
    main = _main_face(rects, image.rgb.shape[1], image.rgb.shape[0])
    counted = [main] + [
        r for r in rects if r != main and _width(r) >= settings.background_face_ratio * _width(main)
    ]
    faces = tuple(_to_box(r, image.scale) for r in counted)
    if len(counted) > 1 and policy is MultiFace.REJECT:
        return Found(image=image, faces=faces, reason=Reason.MULTIPLE_FACES)
    rect = main
    if image.reduced and _width(rect) < settings.encode_min_face:
        full = image.full()
        factor = full.scale / image.scale
        rect = (
            round(rect[0] * factor),
            round(rect[1] * factor),
            round(rect[2] * factor),
            round(rect[3] * factor),
        )
        image = full
    quality = measure(image.rgb, rect, image.scale)
    return Found(
        image=image, faces=faces, reason=judge(quality, settings), face=faces[0], quality=quality, rect=rect
    )


def encode_face(rgb: RGBImage, rect: Rect, num_jitters: int = 1) -> Encoding:
    """The 128-d encoding of the face in ``rect`` (left, top, right, bottom): 5-point landmarks,
    aligned 150-pixel crop, ResNet descriptor."""
    dlib = _dlib()
    box = dlib.rectangle(int(rect[0]), int(rect[1]), int(rect[2]), int(rect[3]))
    shape = landmark_predictor()(rgb, box)
    with encoder() as net:
        descriptor = net.compute_face_descriptor(rgb, shape, num_jitters)
    return np.asarray(descriptor, dtype=np.float64)


def encode(found: Found, settings: FaceSettings) -> Encoding:
    """Encode the face ``find`` chose; only for a usable result."""
    if found.rect is None:
        raise InvalidInput("there is no usable face to encode", field="image")
    return encode_face(found.image.rgb, found.rect, settings.num_jitters)
