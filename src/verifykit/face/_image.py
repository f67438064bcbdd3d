"""Decoding photos safely and cheaply with OpenCV.

Limits come first: the byte size, then what the header declares (the pixel count, and the bytes
the decoder will hold for them), all before any pixel is decoded, so a decompression bomb (a small
file declaring a huge image) costs nothing. The header is read the way the decoder reads it
(libjpeg-turbo, libpng and OpenCV's own chunk walk, libwebp): the first frame header, IHDR as the
first chunk, VP8X only as the first chunk. Any layout that a decoder could read differently from
us (a second frame header, a header out of place, a canvas that disagrees with its bitstream, an
animation) is refused instead of guessed at, so the size we check is the size that gets decoded.
A JPEG's scans are counted too: each one walks the whole coefficient buffer, so a small file of
thousands of tiny scans would cost much CPU; more than the limit are refused before decoding.
Only JPEG, PNG and WebP are accepted: every other decoder OpenCV carries is attack surface that a
face photo does not need. Truncated files are refused rather than decoded into half-grey images.

Decoders are given only what they need, and nothing they would work on unseen. A PNG is rebuilt
from its header, palette, transparency and image data, so no text, compressed text or ICC chunk
reaches libpng; its image data are first inflated here, a step at a time with the output thrown
away, and refused unless they make exactly the declared rows and end there (inflating stops at
the first byte past them). Lossless WebP, whose decoding cost hides in an entropy-coded image,
is refused. A JPEG's walk runs in C (regular expressions and bytes methods): runs of fill bytes,
the marker segments and each scan's restart markers (at most one per MCU) are bounded.

Memory is bounded by what is decoded, not by the pixel count alone: the decoder's output
(pixels x channels x bytes per sample) plus any full-size buffer it keeps while decoding (a
progressive JPEG's coefficients, a WebP's alpha plane). Images without transparency are
decoded straight to 8-bit RGB; 16-bit samples and alpha are reduced to 8-bit RGB in strips, with
alpha composited in integers, so no full-size temporary of another type is ever made.

EXIF orientation is read here and applied to the pixels, the same way for every format and
OpenCV version: a phone photo taken sideways must find its face. A large JPEG is decoded at a
reduced size (libjpeg's DCT scaling, far cheaper than decoding everything and then shrinking),
keeping enough pixels for the face encoding; :meth:`DecodedImage.full` decodes again at full
size for the rare photo whose face turns out to be small.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from .._errors import ConfigurationError, ImageError

__all__ = ["JPEG_MAX_SCANS", "DecodedImage", "ImageInfo", "ImageInput", "load_image", "probe"]

RGBImage = npt.NDArray[np.uint8]
# What callers may pass as a photo: encoded bytes, or an RGB / RGBA / grey numpy array.
ImageInput = bytes | bytearray | memoryview | npt.NDArray[Any]

_EXIF_HEADER = b"Exif\x00\x00"
_ORIENTATION_TAG = 0x0112
_MAX_IFD_ENTRIES = 1024
_REDUCTIONS = (8, 4, 2)
# 16-bit samples and alpha are reduced to 8-bit RGB this many pixels at a time, so the
# temporaries of the conversion stay a few MiB whatever the image's size.
_STRIP_PIXELS = 1 << 20

# JPEG (ITU T.81 and libjpeg-turbo's jdmarker.c). Every start-of-frame marker; C4 (DHT), C8 (JPG)
# and CC (DAC) share the range but are not frame headers.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# The frames libjpeg-turbo decodes to 8-bit samples: baseline, extended and progressive, Huffman
# or arithmetic coded. Lossless and hierarchical frames are refused.
_JPEG_SOF_DECODED = frozenset({0xC0, 0xC1, 0xC2, 0xC9, 0xCA})
_JPEG_PROGRESSIVE = frozenset({0xC2, 0xCA})
_JPEG_MAX_SIDE = 65500  # libjpeg's JPEG_MAX_DIMENSION
_JPEG_COMPONENTS = frozenset({1, 3, 4})  # grey, YCbCr/RGB, CMYK/YCCK: what OpenCV converts to RGB
_JPEG_BLOCK_BYTES = 64 * 2  # one 8x8 block of 16-bit DCT coefficients
# Scans a JPEG may have (FaceSettings.max_jpeg_scans): each walks the whole coefficient buffer.
# Ordinary progressive files have about 10 and libjpeg-turbo's TurboJPEG API refuses over 500;
# 100 admits every ordinary photo and caps a hostile one near ten times an ordinary decode.
JPEG_MAX_SCANS = 100
# After a scan's entropy-coded data, the next marker: 0xFF followed by anything but a stuffed
# zero, a restart marker (both belong to the data) or another 0xFF (a fill byte: the marker
# follows the last one).
_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_JPEG_RESTARTS = tuple(bytes([0xFF, marker]) for marker in range(0xD0, 0xD8))
# Fill bytes (0xFF) before one marker. ITU T.81 B.1.1.2 allows any number; encoders write none or
# a few, so a longer run is refused: no run costs more than this to pass over.
_JPEG_MAX_FILL = 1024
_JPEG_MARKER_PREFIX = re.compile(rb"\xff{1,%d}" % (_JPEG_MAX_FILL + 2))  # fill bytes and the marker's own
_JPEG_FILL_RUN = b"\xff" * (_JPEG_MAX_FILL + 2)
# Marker segments (and restart markers between them) outside entropy-coded data. An ordinary photo
# has a few dozen (tables for each scan, EXIF, XMP, an ICC profile in 64 KiB pieces); each is a
# step of a Python loop, so a file of millions of empty segments would hold the GIL for seconds.
_JPEG_MAX_SEGMENTS = 4096

# PNG (ISO 15948, libpng, OpenCV's APNG chunk walk).
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_PNG_ANIMATION = frozenset({b"acTL", b"fcTL", b"fdAT"})
_PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples per pixel by colour type
# Adam7 passes: (first column, first row, column step, row step).
_PNG_ADAM7 = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)
# The chunks besides the header, the image data and the end that the decoder is given, in the
# order it reads them: the palette, and transparency (which OpenCV turns into an alpha channel).
_PNG_TABLES = (b"PLTE", b"tRNS")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"
# The image data are inflated this many bytes at a time when checked, the output discarded.
_PNG_INFLATE_STEP = 1 << 20
_PNG_MAX_UINT31 = 0x7FFFFFFF  # chunk lengths, widths and heights are at most 2**31 - 1

# WebP (RIFF container, libwebp's webp_dec.c).
_WEBP_IMAGES = frozenset({b"VP8 ", b"VP8L"})
_WEBP_ANIMATION = frozenset({b"ANIM", b"ANMF"})
_WEBP_VP8X_ANIMATION = 0x02
_WEBP_VP8X_ALPHA = 0x10
_WEBP_MAX_CHUNK = 0xFFFFFFF6  # libwebp's MAX_CHUNK_PAYLOAD
_WEBP_ALPHA_COMPRESSION = 0x03  # ALPH header bits: 0 raw, 1 lossless (a VP8L stream)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the header says: format, stored size, EXIF orientation (1 = upright), whether the
    decoder returns an alpha channel, ``decoded_bytes``: the memory the decoder holds to decode
    it at full size (its output plus any full-size working buffer), and ``scans``: the JPEG's
    start-of-scan segments, each a pass over the image (1 for other formats)."""

    format: str
    width: int
    height: int
    orientation: int = 1
    alpha: bool = False
    decoded_bytes: int = 0
    scans: int = 1

    @property
    def pixels(self) -> int:
        return self.width * self.height

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


# -- EXIF ----------------------------------------------------------------------------------------


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


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# -- JPEG ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _JpegFrame:
    """A frame header: its marker, precision, size and each component's (id, h, v) sampling."""

    marker: int
    precision: int
    width: int
    height: int
    components: tuple[tuple[int, int, int], ...]

    @property
    def max_sampling(self) -> tuple[int, int]:
        return max((h for _, h, _ in self.components), default=1), max(
            (v for _, _, v in self.components), default=1
        )

    def mcus(self, scan: bytes) -> int:
        """The MCUs of a scan over the components its header names (ITU T.81 A.2): whole MCUs of
        the frame when it interleaves several, single blocks of its one component otherwise."""
        hmax, vmax = self.max_sampling
        ids = scan[1 : 1 + 2 * scan[0] : 2]
        sampling = {c: (h, v) for c, h, v in self.components}
        if any(c not in sampling for c in ids):
            raise ImageError("corrupt JPEG: a scan names a component the frame lacks")
        if len(ids) > 1:
            return _ceil_div(self.width, 8 * hmax) * _ceil_div(self.height, 8 * vmax)
        h, v = sampling[ids[0]]
        return _ceil_div(_ceil_div(self.width * h, hmax), 8) * _ceil_div(_ceil_div(self.height * v, vmax), 8)


def _jpeg_frame(marker: int, frame: bytes) -> _JpegFrame:
    if len(frame) < 6 or len(frame) != 6 + 3 * frame[5]:
        raise ImageError("corrupt JPEG: bad frame header")
    components = tuple((frame[i], frame[i + 1] >> 4, frame[i + 1] & 0x0F) for i in range(6, len(frame), 3))
    if any(not (1 <= h <= 4 and 1 <= v <= 4) for _, h, v in components):
        raise ImageError("corrupt JPEG: bad sampling factors")
    height, width = int.from_bytes(frame[1:3], "big"), int.from_bytes(frame[3:5], "big")
    return _JpegFrame(marker, frame[0], width, height, components)


def _jpeg_marker(data: bytes, i: int) -> tuple[int, int]:
    """The marker at ``i`` (after at most ``_JPEG_MAX_FILL`` fill bytes) and the position after it."""
    if i >= len(data):
        raise ImageError("truncated JPEG: no end-of-image marker")
    run = _JPEG_MARKER_PREFIX.match(data, i)
    if run is None:
        raise ImageError("corrupt JPEG: expected a marker")
    if run.end() - i > _JPEG_MAX_FILL + 1:
        raise ImageError(f"corrupt JPEG: more than {_JPEG_MAX_FILL:,} fill bytes before a marker")
    if run.end() >= len(data):
        raise ImageError("truncated JPEG: no end-of-image marker")
    return data[run.end()], run.end() + 1


def _jpeg_segments(data: bytes) -> Iterator[tuple[int, int, int, int]]:
    """(marker, payload start, payload end, where the next marker starts) for every marker
    segment up to end-of-image; after a start-of-scan, the next marker follows its
    entropy-coded data.

    Entropy-coded data after each start-of-scan is skipped the way libjpeg finds its end, so
    markers between scans (a second frame header, say) are seen too. Raises when the file ends
    before the end-of-image marker (truncated), holds anything but markers between segments
    (libjpeg skips such bytes with a warning; we refuse them), or has more than
    ``_JPEG_MAX_SEGMENTS`` segments. Every search runs in C (``re``), never a byte at a time.
    """
    i = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        marker, i = _jpeg_marker(data, i)
        if marker == 0xD9:
            return
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # markers without a length
        if marker in (0x00, 0xD8):
            raise ImageError("corrupt JPEG: misplaced marker")
        length = int.from_bytes(data[i : i + 2], "big")
        if i + 2 > len(data) or i + length > len(data):
            raise ImageError("truncated JPEG: cut off inside a marker segment")
        if length < 2:
            raise ImageError("corrupt JPEG: bad segment length")
        start, i = i + 2, i + length
        if marker == 0xDA:
            found = _JPEG_NEXT_MARKER.search(data, i)
            if found is None:
                raise ImageError("truncated JPEG: no end-of-image marker")
            yield marker, start, i, found.start()
            i = found.start()
        else:
            yield marker, start, i, i
    raise ImageError(f"JPEG has more than {_JPEG_MAX_SEGMENTS:,} marker segments")


def _jpeg_check_entropy_data(data: bytes, start: int, end: int, mcus: int) -> None:
    """Refuse a scan's entropy-coded data (``data[start:end]``, ``end`` at the next marker)
    holding more restart markers than it has MCUs, or a longer run of fill bytes than a marker
    may follow. A 0xFF that is data is always followed by a stuffed zero, so every 0xFF 0xDn in
    it is a restart marker and every 0xFF 0xFF a fill byte."""
    if data.find(_JPEG_FILL_RUN, start, end + 1) >= 0:
        raise ImageError(f"corrupt JPEG: more than {_JPEG_MAX_FILL:,} fill bytes before a marker")
    restarts = sum(data.count(marker, start, end) for marker in _JPEG_RESTARTS)
    if restarts > mcus:
        raise ImageError(f"corrupt JPEG: a scan of {mcus:,} MCUs holds {restarts:,} restart markers")


def _jpeg_headers(data: bytes, max_scans: int | None) -> tuple[_JpegFrame, int, int, int]:
    """(frame header, components in the first scan, orientation, scans).

    Counting stops at the first scan past ``max_scans`` (None: no limit), so a file of a million
    tiny scans is not even walked to its end; each scan's restart markers are counted against
    its MCUs as it is passed.
    """
    frame: _JpegFrame | None = None
    scan_components = 0
    orientation = 0
    scans = 0
    for marker, start, end, after in _jpeg_segments(data):
        segment = data[start:end]
        if marker in _JPEG_SOF:
            # libjpeg sizes its buffers from the first frame header and fails on a second one
            # (after it allocated): refuse before, whatever a second one would say.
            if frame is not None:
                raise ImageError("corrupt JPEG: more than one frame header")
            frame = _jpeg_frame(marker, segment)
        elif marker == 0xDA:
            scans += 1
            if max_scans is not None and scans > max_scans:
                raise ImageError(f"JPEG has more than {max_scans:,} scans; the limit is {max_scans:,}")
            if frame is None:
                raise ImageError("corrupt JPEG: image data before the frame header")
            if not segment or not 1 <= segment[0] <= 4 or len(segment) != 4 + 2 * segment[0]:
                raise ImageError("corrupt JPEG: bad scan header")
            _jpeg_check_entropy_data(data, end, after, frame.mcus(segment))
            scan_components = scan_components or segment[0]
        elif marker == 0xE1 and not orientation and segment.startswith(_EXIF_HEADER):
            orientation = _exif_orientation(segment)
    if frame is None or not scan_components:
        raise ImageError("truncated or corrupt JPEG: no image data")
    return frame, scan_components, orientation or 1, scans


def _probe_jpeg(data: bytes, max_scans: int | None) -> ImageInfo:
    frame, scan_components, orientation, scans = _jpeg_headers(data, max_scans)
    if frame.marker not in _JPEG_SOF_DECODED:
        raise ImageError("unsupported JPEG: lossless or hierarchical coding")
    width, height, components = frame.width, frame.height, len(frame.components)
    if frame.precision != 8:
        raise ImageError(f"unsupported JPEG: {frame.precision}-bit samples")
    if components not in _JPEG_COMPONENTS:
        raise ImageError(f"unsupported JPEG: {components} colour components")
    if not (1 <= width <= _JPEG_MAX_SIDE and 1 <= height <= _JPEG_MAX_SIDE):
        raise ImageError("the image header declares an empty or oversized image")
    decoded = 3 * width * height  # decoded to RGB whatever the components
    # A progressive file, or one whose first scan leaves components out, is decoded from a
    # buffer of every component's DCT coefficients (libjpeg's full-image coefficient controller),
    # padded to whole MCUs: the same size at every DCT scaling.
    if frame.marker in _JPEG_PROGRESSIVE or scan_components < components:
        hmax, vmax = frame.max_sampling
        mcu_cols = _ceil_div(width, 8 * hmax)
        mcu_rows = _ceil_div(height, 8 * vmax)
        blocks = sum(mcu_cols * h * mcu_rows * v for _, h, v in frame.components)
        decoded += blocks * _JPEG_BLOCK_BYTES
    return ImageInfo("jpeg", width, height, orientation, alpha=False, decoded_bytes=decoded, scans=scans)


# -- PNG -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _PngLayout:
    """What of a PNG the decoder is given: the whole chunks (length to CRC) of its header,
    palette and transparency, its image data chunks, and how many bytes the image data inflate
    to (the declared rows, each with its filter byte)."""

    kept: tuple[tuple[int, int], ...]
    image_data: tuple[tuple[int, int], ...]
    inflated_bytes: int


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, int, int, bool]]:
    """(type, body start, body end, CRC valid) for each chunk after the signature, up to IEND."""
    n = len(data)
    pos = len(_PNG_SIGNATURE)
    while True:
        if pos + 12 > n:
            raise ImageError("truncated PNG: no end chunk")
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        if length > _PNG_MAX_UINT31 or not kind.isalpha():
            raise ImageError("corrupt PNG: bad chunk header")
        end = pos + 8 + length
        if end + 4 > n:
            raise ImageError("truncated PNG: cut off inside a chunk")
        (crc,) = struct.unpack(">I", data[end : end + 4])
        yield kind, pos + 8, end, zlib.crc32(data[pos + 4 : end]) == crc
        if kind == b"IEND":
            return
        pos = end + 4


def _png_header(data: bytes, chunk: tuple[bytes, int, int, bool]) -> tuple[int, int, int, int, int]:
    """(width, height, bit depth, colour type, interlace) from the first chunk, which must be IHDR.

    libpng and OpenCV's own chunk walk both take the first chunk as the header: anything else
    first, or a header that fails its CRC, is refused rather than read some other way.
    """
    kind, start, end, crc_ok = chunk
    if kind != b"IHDR" or end - start != 13:
        raise ImageError("corrupt PNG: the first chunk must be the header")
    if not crc_ok:
        raise ImageError("corrupt PNG: header checksum mismatch")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data[start:end]
    )
    if depth not in _PNG_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise ImageError("corrupt PNG: invalid header")
    if not (1 <= width <= _PNG_MAX_UINT31 and 1 <= height <= _PNG_MAX_UINT31):
        raise ImageError("the image header declares an empty or oversized image")
    return width, height, depth, colour, interlace


def _png_inflated_bytes(width: int, height: int, depth: int, colour: int, interlace: int) -> int:
    """What the image data inflate to (ISO 15948 7.2, 8.2): each row of each pass is a filter
    byte and its pixels' bits packed into whole bytes; an Adam7 pass that is empty has no rows."""
    bits = _PNG_SAMPLES[colour] * depth
    passes = _PNG_ADAM7 if interlace else ((0, 0, 1, 1),)
    total = 0
    for x0, y0, dx, dy in passes:
        cols, rows = _ceil_div(width - x0, dx), _ceil_div(height - y0, dy)
        if cols > 0 and rows > 0:
            total += rows * (1 + _ceil_div(cols * bits, 8))
    return total


def _probe_png(data: bytes) -> tuple[ImageInfo, _PngLayout]:
    chunks = _png_chunks(data)
    header = next(chunks)
    width, height, depth, colour, interlace = _png_header(data, header)
    tables: dict[bytes, tuple[int, int]] = {}  # PLTE and tRNS before the image data
    image_data: list[tuple[int, int]] = []
    orientation = 0
    for kind, start, end, crc_ok in chunks:
        if kind == b"IHDR":
            raise ImageError("corrupt PNG: more than one header")
        if kind in _PNG_ANIMATION:
            raise ImageError("animated PNG is not accepted")
        if not crc_ok:
            if kind[0] & 0x20 == 0:  # critical chunk: libpng stops with an error
                raise ImageError(f"corrupt PNG: {kind.decode()} checksum mismatch")
            continue  # libpng discards an ancillary chunk with a bad checksum
        if kind == b"IDAT":
            if image_data and image_data[-1][1] + 4 != start - 8:
                raise ImageError("corrupt PNG: the image data are split by other chunks")
            image_data.append((start, end))
        elif kind in _PNG_TABLES and not image_data:
            if kind in tables:
                raise ImageError(f"corrupt PNG: more than one {kind.decode()} chunk")
            tables[kind] = (start - 8, end + 4)
        elif kind == b"PLTE":
            raise ImageError("corrupt PNG: the palette follows the image data")
        elif kind == b"eXIf" and not orientation:
            orientation = _exif_orientation(data[start:end])
        # libpng ignores a tRNS after the image data; it is not given to it at all.
    if not image_data:
        raise ImageError("corrupt PNG: no image data")
    # OpenCV decodes colour with transparency (an alpha channel, or a tRNS chunk on RGB or
    # palette images) to 4 channels at the file's depth; anything else straight to 8-bit RGB,
    # libpng dropping the low byte of 16-bit samples as it reads.
    alpha = colour in (4, 6) or (colour in (2, 3) and b"tRNS" in tables)
    decoded = width * height * (4 * (2 if depth == 16 else 1) if alpha else 3)
    info = ImageInfo("png", width, height, orientation or 1, alpha=alpha, decoded_bytes=decoded)
    inflated = _png_inflated_bytes(width, height, depth, colour, interlace)
    kept = ((header[1] - 8, header[2] + 4), *(tables[kind] for kind in _PNG_TABLES if kind in tables))
    return info, _PngLayout(kept, tuple(image_data), inflated)


def _png_check_image_data(data: bytes, layout: _PngLayout) -> None:
    """Inflate the image data, discarding the output, and refuse them unless they make exactly
    the declared rows and end there.

    Inflating stops at the first byte past the declared rows, so a stream of gigabytes behind a
    small header costs no more than the rows it declares (which the limits already admitted);
    the output never exceeds ``_PNG_INFLATE_STEP`` at a time.
    """
    needed = layout.inflated_bytes
    inflater = zlib.decompressobj()
    bodies = iter(layout.image_data)
    produced = 0
    pending = memoryview(b"")
    try:
        while not inflater.eof:
            if not pending:
                body = next(bodies, None)
                if body is None:
                    pending_output = inflater.decompress(b"", min(_PNG_INFLATE_STEP, needed - produced + 1))
                    if not pending_output:
                        break
                    produced += len(pending_output)
                else:
                    pending = memoryview(data)[body[0] : body[1]]
                    continue
            else:
                out = inflater.decompress(pending, min(_PNG_INFLATE_STEP, needed - produced + 1))
                produced += len(out)
                pending = memoryview(inflater.unconsumed_tail)
            if produced > needed:
                raise ImageError("corrupt PNG: the image data hold more than the header declares")
    except zlib.error as exc:
        raise ImageError("corrupt PNG: the image data do not inflate") from exc
    if produced < needed:
        raise ImageError("truncated PNG: the image data hold fewer rows than the header declares")
    if not inflater.eof:
        raise ImageError("corrupt PNG: the image data do not end after the declared rows")
    if inflater.unused_data or pending or any(end > start for start, end in bodies):
        raise ImageError("corrupt PNG: data follow the end of the image data")


def _png_rebuilt(data: bytes, layout: _PngLayout) -> bytes:
    """The PNG as the decoder gets it: header, palette, transparency, image data, end. Every
    other chunk (text, compressed text, ICC profiles, ...) is left out, so no decoder inflates
    or parses it."""
    spans = (*layout.kept, (layout.image_data[0][0] - 8, layout.image_data[-1][1] + 4))
    return b"".join([_PNG_SIGNATURE, *(data[start:end] for start, end in spans), _PNG_END])


# -- WebP ----------------------------------------------------------------------------------------


def _webp_bitstream_size(kind: bytes, body: bytes) -> tuple[int, int, bool]:
    """(width, height, alpha hint) from a VP8 or VP8L bitstream header, as libwebp's
    VP8GetInfo and VP8LGetInfo read them."""
    if kind == b"VP8 ":
        if len(body) < 10 or body[3:6] != b"\x9d\x01\x2a":
            raise ImageError("corrupt WebP: bad VP8 header")
        bits = int.from_bytes(body[0:3], "little")
        key_frame, profile, shown, partition = not bits & 1, (bits >> 1) & 7, (bits >> 4) & 1, bits >> 5
        if not key_frame or profile > 3 or not shown or partition >= len(body):
            raise ImageError("corrupt WebP: bad VP8 frame tag")
        width = int.from_bytes(body[6:8], "little") & 0x3FFF
        height = int.from_bytes(body[8:10], "little") & 0x3FFF
        return width, height, False
    if len(body) < 5 or body[0] != 0x2F:
        raise ImageError("corrupt WebP: bad VP8L header")
    bits = int.from_bytes(body[1:5], "little")
    if bits >> 29:
        raise ImageError("corrupt WebP: unknown VP8L version")
    return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)


def _webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk inside the RIFF size, as libwebp bounds them."""
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size < 12 or riff_size > _WEBP_MAX_CHUNK:
        raise ImageError("corrupt WebP: bad RIFF size")
    end = riff_size + 8
    if end > len(data):
        raise ImageError("truncated WebP")
    chunks: list[tuple[bytes, bytes]] = []
    pos = 12
    while pos < end:
        if pos + 8 > end:
            raise ImageError("corrupt WebP: a chunk header runs past the RIFF size")
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if pos + 8 + length > end:
            raise ImageError("truncated WebP chunk")
        chunks.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return chunks


def _webp_image_chunk(kinds: list[bytes]) -> int:
    """The index of the one image chunk, once the layout is one libwebp reads as we do.

    libwebp honours VP8X only as the first chunk, decodes the first VP8/VP8L after it, and
    takes a file whose first chunk is neither for a bare bitstream. Every layout where that
    reading and ours could part is refused: an unknown first chunk, any repeated header, alpha
    outside the extended format, an animation.
    """
    if not kinds or kinds[0] not in {b"VP8X", *_WEBP_IMAGES}:
        raise ImageError("corrupt WebP: the first chunk must be VP8, VP8L or VP8X")
    if _WEBP_ANIMATION.intersection(kinds):
        raise ImageError("animated WebP is not accepted")
    images = [i for i, kind in enumerate(kinds) if kind in _WEBP_IMAGES]
    extended = kinds[0] == b"VP8X"
    if len(images) != 1 or kinds.count(b"VP8X") > extended or kinds.count(b"ALPH") > extended:
        raise ImageError("corrupt WebP: repeated or misplaced image headers")
    return images[0]


def _webp_refuse_lossless(chunks: list[tuple[bytes, bytes]]) -> None:
    """Refuse lossless coding: a VP8L image, or an ALPH chunk holding a VP8L-coded alpha plane.

    What a VP8L stream costs to decode is not in any header: its prefix-code groups (up to 65,536,
    each a few KiB of Huffman tables) are named by an entropy image that is itself VP8L-coded
    behind its transforms' coded images, so counting them means decoding those in Python. A
    bound from the size alone would refuse nearly every lossless file over a few hundred pixels
    square anyway. Photos from cameras and browsers are lossy (VP8), with raw alpha if any.
    """
    for kind, body in chunks:
        if kind == b"VP8L":
            raise ImageError("lossless WebP is not accepted: send the photo as JPEG or lossy WebP")
        if kind == b"ALPH":
            if not body or body[0] & _WEBP_ALPHA_COMPRESSION > 1:
                raise ImageError("corrupt WebP: bad ALPH chunk")
            if body[0] & _WEBP_ALPHA_COMPRESSION:
                raise ImageError("WebP with losslessly compressed alpha is not accepted")


def _probe_webp(data: bytes) -> ImageInfo:
    chunks = _webp_chunks(data)
    kinds = [kind for kind, _ in chunks]
    kind, body = chunks[_webp_image_chunk(kinds)]
    width, height, alpha = _webp_bitstream_size(kind, body)
    if kinds[0] == b"VP8X":
        header = chunks[0][1]
        if len(header) != 10:
            raise ImageError("corrupt WebP: bad VP8X chunk")
        if header[0] & _WEBP_VP8X_ANIMATION:
            raise ImageError("animated WebP is not accepted")
        canvas = (int.from_bytes(header[4:7], "little") + 1, int.from_bytes(header[7:10], "little") + 1)
        # OpenCV allocates from the canvas, libwebp decodes the bitstream: they must agree.
        if canvas != (width, height):
            raise ImageError("corrupt WebP: the canvas size differs from the image's size")
        alpha = alpha or bool(header[0] & _WEBP_VP8X_ALPHA) or b"ALPH" in kinds
    if width < 1 or height < 1:
        raise ImageError("the image header declares an empty image")
    _webp_refuse_lossless(chunks)
    pixels = width * height
    decoded = pixels * (4 if alpha else 3)
    if alpha:
        decoded += 2 * pixels  # the alpha plane and a working copy of it
    orientation = next((_exif_orientation(b) for k, b in chunks if k == b"EXIF"), 1)
    return ImageInfo("webp", width, height, orientation, alpha=alpha, decoded_bytes=decoded)


def _probe(data: bytes, max_jpeg_scans: int | None) -> tuple[ImageInfo, _PngLayout | None]:
    layout = None
    if data.startswith(b"\xff\xd8\xff"):
        info = _probe_jpeg(data, max_jpeg_scans)
    elif data.startswith(_PNG_SIGNATURE):
        info, layout = _probe_png(data)
    elif len(data) >= 16 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        info = _probe_webp(data)
    else:
        raise ImageError("not a JPEG, PNG or WebP image")
    if info.width < 1 or info.height < 1:
        raise ImageError("the image header declares an empty image")
    return info, layout


def probe(data: bytes, *, max_jpeg_scans: int | None = None) -> ImageInfo:
    """Read format, size, orientation and decoding cost from the header without decoding any
    pixels. Raises :class:`ImageError` for a layout the decoder could read differently, for
    lossless WebP, or for a JPEG of more than ``max_jpeg_scans`` scans (None: any number), more
    restart markers in a scan than it has MCUs, or long runs of fill bytes."""
    return _probe(data, max_jpeg_scans)[0]


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


def _over_white(colour: npt.NDArray[np.uint8], alpha: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint16]:
    """``colour`` composited over white, rounded to nearest, in 16-bit integers:
    c*a + 255*(255-a) + 127 never exceeds 65152."""
    weight = alpha[..., None].astype(np.uint16)
    out = colour.astype(np.uint16) * weight
    out += (255 - weight) * 255 + 127
    out //= 255
    return out


def _strip_to_rgb(strip: npt.NDArray[Any], channels: int, bgr: bool) -> npt.NDArray[Any]:
    """Rows of any layout as 8-bit RGB (or a grey column that broadcasts to it)."""
    if strip.dtype == np.uint16:
        strip = (strip >> 8).astype(np.uint8)
    if channels == 1:
        return strip[:, :, None]
    if channels == 2:
        colour, alpha = strip[:, :, :1], strip[:, :, 1]
    else:
        colour = strip[:, :, 2::-1] if bgr else strip[:, :, :3]
        if channels == 3:
            return colour
        alpha = strip[:, :, 3]
    return _over_white(colour, alpha) if alpha.min() < 255 else colour


def _to_rgb(pixels: npt.NDArray[Any], *, bgr: bool) -> RGBImage:
    """Any decoded layout (grey, grey+alpha, colour, colour+alpha; 8 or 16 bit) as 8-bit RGB.

    Transparent pixels are composited over white, so a cut-out portrait does not turn into a
    face on whatever colour the transparent pixels happened to hold (and nothing hidden under
    transparency is what gets verified). 16-bit samples keep their high byte. Both happen a strip
    at a time, so the only full-size array made is the 8-bit RGB result.
    """
    cv2 = _cv2()
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageError("only 8- and 16-bit images are supported")
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    channels = 1 if pixels.ndim == 2 else pixels.shape[2] if pixels.ndim == 3 else 0
    if channels not in (1, 2, 3, 4):
        raise ImageError("an image must be greyscale, RGB or RGBA")
    if pixels.dtype == np.uint8 and channels == 1:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_GRAY2RGB))
    if pixels.dtype == np.uint8 and channels == 3:
        return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB) if bgr else pixels)
    height, width = pixels.shape[:2]
    out = np.empty((height, width, 3), np.uint8)
    rows = max(1, _STRIP_PIXELS // width)
    for top in range(0, height, rows):
        np.copyto(
            out[top : top + rows], _strip_to_rgb(pixels[top : top + rows], channels, bgr), casting="unsafe"
        )
    return out


def _read_flag(cv2: Any, info: ImageInfo, reduction: int) -> tuple[int, bool]:
    """The imdecode flag for this image, and whether it returns BGR(A) rather than RGB."""
    if info.alpha:
        # The only way OpenCV returns alpha is as the file stores it (BGRA, 8 or 16 bit); the
        # header check counted that. Orientation is ours to apply in every case.
        return cv2.IMREAD_UNCHANGED, True
    rgb = getattr(cv2, "IMREAD_COLOR_RGB", 0)  # OpenCV 4.11 and later decode straight to RGB
    flag = (rgb or cv2.IMREAD_COLOR) | cv2.IMREAD_IGNORE_ORIENTATION
    if info.format == "jpeg" and reduction > 1:
        # libjpeg's DCT scaling. The REDUCED_COLOR flags also carry the BGR bit, which OpenCV
        # refuses next to the RGB one, so only their scaling bits are taken.
        reduced = {
            2: cv2.IMREAD_REDUCED_COLOR_2,
            4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8,
        }
        flag |= reduced[reduction] & ~cv2.IMREAD_COLOR
    return flag, not rgb


def _check_room(info: ImageInfo) -> None:
    """After a failed decode: raise MemoryError when the decoder's buffers would not fit now.

    OpenCV answers a failed allocation inside a decoder the way it answers a corrupt file (no
    image), so under a memory limit (a face worker's) the two look alike. Asking for the
    decoder's buffers again tells them apart: ``np.empty`` reserves without touching a page, so it
    costs nothing when there is room.
    """
    room = np.empty(max(info.decoded_bytes, 1), dtype=np.uint8)  # MemoryError when there is none
    del room


def _decode(data: bytes, info: ImageInfo, reduction: int) -> DecodedImage:
    cv2 = _cv2()
    flag, bgr = _read_flag(cv2, info, reduction)
    try:
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    except cv2.error as exc:
        _check_room(info)
        raise ImageError(f"corrupt {info.format.upper()} image: it could not be decoded") from exc
    if decoded is None:
        _check_room(info)
        raise ImageError(f"corrupt {info.format.upper()} image: it could not be decoded")
    if info.format != "jpeg":
        reduction = 1  # OpenCV would shrink other formats only after decoding them in full
    if (decoded.shape[1], decoded.shape[0]) != (-(-info.width // reduction), -(-info.height // reduction)):
        raise ImageError(f"corrupt {info.format.upper()} image: decoded size differs from its header")
    if bgr and decoded.dtype == np.uint8 and decoded.ndim == 3 and decoded.shape[2] == 3:
        cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB, dst=decoded)  # in place: the array is ours
        bgr = False
    rgb = _to_rgb(decoded, bgr=bgr)
    del decoded  # before orienting, which copies: never three full-size arrays at once
    return DecodedImage(
        rgb=_orient(rgb, info.orientation),
        scale=1.0 / reduction,
        original_size=info.upright_size,
        source=data,
        info=info,
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
    max_decoded_bytes: int,
    max_jpeg_scans: int = JPEG_MAX_SCANS,
    work_min_side: int = 0,
) -> DecodedImage:
    """Check limits, then decode to upright RGB.

    ``max_decoded_bytes`` bounds what decoding holds at full size (see :class:`ImageInfo`); it is
    checked for the full size even when a reduced decode is enough, because
    :meth:`DecodedImage.full` may need it. A JPEG of more than ``max_jpeg_scans`` scans is
    refused while its header is read. A JPEG whose longer side exceeds ``work_min_side`` by a
    factor of 2, 4 or 8 is decoded that much smaller; 0 always decodes at full size. Raises
    :class:`ImageError` for anything unusable.
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
    info, png = _probe(data, max_jpeg_scans)
    if info.pixels > max_pixels:
        raise ImageError(f"image has {info.pixels:,} pixels; the limit is {max_pixels:,}")
    if info.decoded_bytes > max_decoded_bytes:
        raise ImageError(
            f"decoding the image takes {info.decoded_bytes:,} bytes; the limit is {max_decoded_bytes:,}"
        )
    if png is not None:
        # Only now, within the limits: inflating costs what the declared rows do.
        _png_check_image_data(data, png)
        data = _png_rebuilt(data, png)
    reduction = 1
    if info.format == "jpeg" and work_min_side > 0:
        longest = max(info.width, info.height)
        reduction = next((r for r in _REDUCTIONS if longest // r >= work_min_side), 1)
    return _decode(data, info, reduction)
