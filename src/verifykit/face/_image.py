"""Decoding photos safely and cheaply with OpenCV.

Limits come first: the byte size, then the pixel count read from the file header, both before
any pixel is decoded, so a decompression bomb (a small file declaring a huge image) costs nothing.
Only JPEG, PNG and WebP are accepted: every other decoder OpenCV carries is attack surface that a
face photo does not need. Truncated files are refused rather than decoded into half-grey images.

EXIF orientation is read here and applied to the pixels, the same way for every format and
OpenCV version: a phone photo taken sideways must find its face. A large JPEG is decoded at a
reduced size (libjpeg's DCT scaling, far cheaper than decoding everything and then shrinking),
keeping enough pixels for the face encoding; :meth:`DecodedImage.full` decodes again at full
size for the rare photo whose face turns out to be small.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._errors import ConfigurationError, ImageError

__all__ = ["DecodedImage", "ImageInfo", "ImageInput", "load_image", "probe"]

RGBImage = npt.NDArray[np.uint8]
# What callers may pass as a photo: encoded bytes, or an RGB / RGBA / grey array.
ImageInput = bytes | bytearray | memoryview | npt.NDArray[Any]

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Start-of-frame markers (baseline, extended, progressive, lossless; Huffman and arithmetic).
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_MAX_IFD_ENTRIES = 1024
_REDUCTIONS = (8, 4, 2)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says: format, stored size, and the EXIF orientation (1 = upright)."""

    format: str
    width: int
    height: int
    orientation: int = 1

    @property
    def upright_size(self) -> tuple[int, int]:
        """(width, height) once the orientation is applied."""
        if self.orientation in (5, 6, 7, 8):
            return self.height, self.width
        return self.width, self.height


@dataclass(frozen=True, slots=True)
class DecodedImage:
    """Upright RGB pixels, possibly at a reduced size.

    ``scale`` is working pixels per original pixel (1, 1/2, 1/4 or 1/8), so a box found here maps
    back to the original photo by dividing by it.
    """

    rgb: RGBImage
    scale: float
    original_size: tuple[int, int]
    source: bytes | None = None
    info: ImageInfo | None = None

    @property
    def reduced(self) -> bool:
        return self.scale < 1.0

    def full(self) -> DecodedImage:
        """The same photo decoded at full size (itself when it already is)."""
        if not self.reduced or self.source is None or self.info is None:
            return self
        return _decode(self.source, self.info, 1)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise ConfigurationError(
            "OpenCV is not installed; install the face extra: pip install 'verifykit[face]'"
        ) from exc
    return cv2


# -- header parsing ------------------------------------------------------------------------------


def _orientation_from_tiff(tiff: bytes) -> int:
    """The Orientation tag of IFD0 in a TIFF (EXIF) block; 1 when absent or unreadable.

    A malformed EXIF block never makes a photo unusable: it only loses the rotation hint.
    """
    if len(tiff) < 8:
        return 1
    order = tiff[:2]
    if order == b"II":
        endian = "<"
    elif order == b"MM":
        endian = ">"
    else:
        return 1
    (ifd,) = struct.unpack(endian + "I", tiff[4:8])
    if ifd + 2 > len(tiff):
        return 1
    (count,) = struct.unpack(endian + "H", tiff[ifd : ifd + 2])
    for k in range(min(count, _MAX_IFD_ENTRIES)):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            break
        tag, kind, _n = struct.unpack(endian + "HHI", tiff[entry : entry + 8])
        if tag == _ORIENTATION_TAG and kind == 3:  # SHORT
            (value,) = struct.unpack(endian + "H", tiff[entry + 8 : entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def _exif_orientation(block: bytes) -> int:
    return _orientation_from_tiff(block[len(_EXIF_HEADER) :] if block.startswith(_EXIF_HEADER) else block)


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int]]:
    """(marker, payload start, payload end) for each header segment, up to and including the
    first start-of-scan; stops quietly at a cut-off segment (the caller notices what is missing)."""
    n = len(data)
    i = 2
    while i < n:
        if data[i] != 0xFF:
            raise ImageError("corrupt JPEG: expected a marker")
        while i < n and data[i] == 0xFF:
            i += 1
        if i >= n:
            return
        marker = data[i]
        i += 1
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:
            continue  # markers without a length
        if marker == 0xD9 or i + 2 > n:
            return
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > n:
            return
        yield marker, i + 2, i + length
        if marker == 0xDA:
            return
        i += length


def _probe_jpeg(data: bytes) -> ImageInfo:
    size: tuple[int, int] | None = None
    orientation = 1
    scan_start = -1
    for marker, start, end in _jpeg_segments(data):
        segment = data[start:end]
        if marker in _SOF_MARKERS:
            if len(segment) < 6:
                raise ImageError("corrupt JPEG: short frame header")
            size = (int.from_bytes(segment[3:5], "big"), int.from_bytes(segment[1:3], "big"))
        elif marker == 0xE1 and segment.startswith(_EXIF_HEADER):
            orientation = _exif_orientation(segment)
        elif marker == 0xDA:
            scan_start = end
    if size is None or scan_start < 0:
        raise ImageError("truncated or corrupt JPEG: no image data")
    # 0xFFD9 cannot occur inside entropy-coded data (0xFF is stuffed as 0xFF00), so its absence
    # after the first scan means the file was cut short.
    if data.find(b"\xff\xd9", scan_start) < 0:
        raise ImageError("truncated JPEG: no end-of-image marker")
    return ImageInfo("jpeg", size[0], size[1], orientation)


def _probe_png(data: bytes) -> ImageInfo:
    n = len(data)
    if n < 33 or data[12:16] != b"IHDR":
        raise ImageError("corrupt PNG: no header chunk")
    width, height = struct.unpack(">II", data[16:24])
    orientation = 1
    pos = 8
    while pos + 12 <= n:
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > n:
            break
        if kind == b"eXIf":
            orientation = _exif_orientation(data[pos + 8 : pos + 8 + length])
        elif kind == b"IEND":
            return ImageInfo("png", width, height, orientation)
        pos = end
    raise ImageError("truncated PNG: no end chunk")


def _probe_webp(data: bytes) -> ImageInfo:
    n = len(data)
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > n:
        raise ImageError("truncated WebP")
    end = riff_size + 8
    size: tuple[int, int] | None = None
    orientation = 1
    pos = 12
    while pos + 8 <= end:
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise ImageError("truncated WebP chunk")
        if kind == b"VP8X" and length >= 10:
            size = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
        elif kind == b"VP8 " and size is None and length >= 10 and body[3:6] == b"\x9d\x01\x2a":
            size = (
                int.from_bytes(body[6:8], "little") & 0x3FFF,
                int.from_bytes(body[8:10], "little") & 0x3FFF,
            )
        elif kind == b"VP8L" and size is None and length >= 5 and body[0] == 0x2F:
            bits = int.from_bytes(body[1:5], "little")
            size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
        elif kind == b"EXIF":
            orientation = _exif_orientation(body)
        pos += 8 + length + (length & 1)
    if size is None:
        raise ImageError("corrupt WebP: no image header")
    return ImageInfo("webp", size[0], size[1], orientation)


def probe(data: bytes) -> ImageInfo:
    """Read format, size and orientation from the header without decoding any pixels."""
    if data.startswith(b"\xff\xd8\xff"):
        info = _probe_jpeg(data)
    elif data.startswith(_PNG_SIGNATURE):
        info = _probe_png(data)
    elif len(data) >= 16 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        info = _probe_webp(data)
    else:
        raise ImageError("not a JPEG, PNG or WebP image")
    if info.width < 1 or info.height < 1:
        raise ImageError("the image header declares an empty image")
    return info


# -- decoding ------------------------------------------------------------------------------------


def _orient(img: RGBImage, orientation: int) -> RGBImage:
    """Apply an EXIF orientation (2-8) so the pixels stand upright."""
    cv2 = _cv2()
    if orientation == 2:
        out = cv2.flip(img, 1)
    elif orientation == 3:
        out = cv2.rotate(img, cv2.ROTATE_180)
    elif orientation == 4:
        out = cv2.flip(img, 0)
    elif orientation == 5:
        out = cv2.transpose(img)
    elif orientation == 6:
        out = cv2.rotate(img, cv2.ROTATE_90_CLOCKWISE)
    elif orientation == 7:
        out = cv2.flip(cv2.transpose(img), -1)
    elif orientation == 8:
        out = cv2.rotate(img, cv2.ROTATE_90_COUNTERCLOCKWISE)
    else:
        return img
    return np.ascontiguousarray(out)


def _to_rgb(pixels: npt.NDArray[Any], *, bgr: bool) -> RGBImage:
    """Any decoded layout (grey, grey+alpha, colour, colour+alpha; 8 or 16 bit) as 8-bit RGB.

    Transparent pixels are composited over white, so a cut-out portrait does not turn into a
    face on whatever colour the transparent pixels happened to hold.
    """
    cv2 = _cv2()
    if pixels.dtype == np.uint16:
        pixels = (pixels >> 8).astype(np.uint8)
    elif pixels.dtype != np.uint8:
        raise ImageError("only 8- and 16-bit images are supported")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    if pixels.ndim == 3 and pixels.shape[2] == 2:  # grey + alpha
        grey = pixels[:, :, 0]
        pixels = np.dstack([grey, grey, grey, pixels[:, :, 1]])
    if pixels.ndim == 2:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB))
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ImageError("an image must be greyscale, RGB or RGBA")
    if pixels.shape[2] == 4:
        alpha = pixels[:, :, 3]
        colour = pixels[:, :, :3]
        if alpha.min() < 255:
            weight = alpha[:, :, None].astype(np.float32) / 255.0
            colour = (colour.astype(np.float32) * weight + 255.0 * (1.0 - weight) + 0.5).astype(np.uint8)
        pixels = colour
    if bgr:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
    return np.ascontiguousarray(pixels)


def _decode(data: bytes, info: ImageInfo, reduction: int) -> DecodedImage:
    cv2 = _cv2()
    buffer = np.frombuffer(data, dtype=np.uint8)
    if info.format == "jpeg":
        flag = {
            1: cv2.IMREAD_COLOR,
            2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8,
        }[reduction]
        expected = (-(-info.width // reduction), -(-info.height // reduction))
        decoded = cv2.imdecode(buffer, flag | cv2.IMREAD_IGNORE_ORIENTATION)
    else:
        expected = (info.width, info.height)
        decoded = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
    if decoded is None:
        raise ImageError(f"corrupt {info.format.upper()} image: it could not be decoded")
    if (decoded.shape[1], decoded.shape[0]) != expected:
        raise ImageError(f"corrupt {info.format.upper()} image: decoded size differs from its header")
    rgb = _orient(_to_rgb(decoded, bgr=True), info.orientation)
    return DecodedImage(
        rgb=rgb, scale=1.0 / reduction, original_size=info.upright_size, source=data, info=info
    )


def _from_array(array: npt.NDArray[Any], max_pixels: int) -> DecodedImage:
    if array.ndim not in (2, 3) or array.shape[0] < 1 or array.shape[1] < 1:
        raise ImageError("an image array must be H x W (grey) or H x W x 3/4 (RGB/RGBA)")
    height, width = int(array.shape[0]), int(array.shape[1])
    if width * height > max_pixels:
        raise ImageError(f"image has {width * height:,} pixels; the limit is {max_pixels:,}")
    return DecodedImage(rgb=_to_rgb(array, bgr=False), scale=1.0, original_size=(width, height))


def load_image(
    image: ImageInput,
    *,
    max_bytes: int,
    max_pixels: int,
    work_min_side: int = 0,
) -> DecodedImage:
    """Check limits, then decode to upright RGB.

    A JPEG whose longer side exceeds ``work_min_side`` by a factor of 2, 4 or 8 is decoded that
    much smaller; 0 always decodes at full size. Raises :class:`ImageError` for anything unusable.
    """
    if isinstance(image, np.ndarray):
        return _from_array(image, max_pixels)
    if not isinstance(image, bytes | bytearray | memoryview):
        raise ImageError("an image must be encoded bytes or a numpy array")
    size = image.nbytes if isinstance(image, memoryview) else len(image)
    if size == 0:
        raise ImageError("the image is empty")
    if size > max_bytes:
        raise ImageError(f"image is {size:,} bytes; the limit is {max_bytes:,}")
    data = bytes(image)
    info = probe(data)
    if info.width * info.height > max_pixels:
        raise ImageError(f"image has {info.width * info.height:,} pixels; the limit is {max_pixels:,}")
    reduction = 1
    if info.format == "jpeg" and work_min_side > 0:
        longest = max(info.width, info.height)
        reduction = next((r for r in _REDUCTIONS if longest // r >= work_min_side), 1)
    return _decode(data, info, reduction)
