"""Builders for image files byte by byte: PNG chunks, WebP RIFF chunks, JPEG marker segments.

They make both well-formed files of any size (rows are streamed into zlib, so a 40 MP PNG costs a
few hundred KB and no full-size array) and the malformed layouts the header checks must refuse.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Iterable
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # samples per pixel by colour type
PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))


def tiff_orientation(orientation: int) -> bytes:
    """A big-endian TIFF block whose IFD0 holds one Orientation tag."""
    return (
        b"MM\x00\x2a"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">I", 0)
    )


# -- PNG -----------------------------------------------------------------------------------------


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_ihdr(width: int, height: int, depth: int = 8, colour: int = 2, interlace: int = 0) -> bytes:
    return png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, interlace))


def png_idat(width: int, height: int, depth: int = 8, colour: int = 2, interlace: int = 0) -> bytes:
    """IDAT for an image whose every sample byte is 0x80 but the first of each row, which grows
    along the row: a mid-grey, half-transparent picture, streamed a row at a time."""
    packer = zlib.compressobj(6)
    parts: list[bytes] = []
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        cols = max(0, -(-(width - x0) // dx))
        rows = max(0, -(-(height - y0) // dy))
        if not cols or not rows:
            continue
        row_bytes = -(-(cols * PNG_SAMPLES[colour] * depth) // 8)
        row = bytearray(b"\x80" * row_bytes)
        row[: min(row_bytes, 256)] = bytes(range(min(row_bytes, 256)))
        if colour == 3:  # palette indices must stay inside the palette
            row = bytearray(b % 2 for b in row)
        parts.append(packer.compress(b"\x00" + bytes(row)))
        same = b"\x02" + bytes(row_bytes)  # filter "Up" with no change: the same row again
        for _ in range(rows - 1):
            parts.append(packer.compress(same))
    parts.append(packer.flush())
    return png_chunk(b"IDAT", b"".join(parts))


def png(
    width: int,
    height: int,
    depth: int = 8,
    colour: int = 2,
    *,
    interlace: int = 0,
    before_data: Iterable[bytes] = (),
    orientation: int = 1,
) -> bytes:
    """A well-formed PNG; ``before_data`` are whole chunks placed between IHDR and IDAT."""
    extra = list(before_data)
    if colour == 3 and not any(c[4:8] == b"PLTE" for c in extra):
        extra.insert(0, png_chunk(b"PLTE", bytes([0x20, 0x40, 0x60, 0xC0, 0xA0, 0x80])))
    if orientation != 1:
        extra.append(png_chunk(b"eXIf", tiff_orientation(orientation)))
    return (
        PNG_SIGNATURE
        + png_ihdr(width, height, depth, colour, interlace)
        + b"".join(extra)
        + png_idat(width, height, depth, colour, interlace)
        + png_chunk(b"IEND", b"")
    )


def png_chunk_list(data: bytes) -> list[bytes]:
    """The whole chunks of a PNG (length, type, body, CRC), signature excluded."""
    out, pos = [], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append(data[pos : pos + 12 + length])
        pos += 12 + length
    return out


# -- WebP ----------------------------------------------------------------------------------------


def webp_chunk(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("<I", len(body)) + body + (b"\x00" if len(body) & 1 else b"")


def riff(chunks: Iterable[bytes], size_delta: int = 0) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body) + size_delta) + body


def vp8x(width: int, height: int, flags: int = 0) -> bytes:
    return webp_chunk(
        b"VP8X",
        struct.pack("<I", flags) + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"),
    )


def webp_chunk_list(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each chunk of a RIFF WebP."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return out


# -- JPEG ----------------------------------------------------------------------------------------


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_frame(jpeg: bytes) -> tuple[int, int]:
    """(offset, end) of the first frame header segment (SOF0 or SOF2) in a JPEG from OpenCV."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        i = jpeg.find(marker)
        if i >= 0:
            return i, i + 2 + int.from_bytes(jpeg[i + 2 : i + 4], "big")
    raise ValueError("no frame header")


def jpeg_frame_resized(jpeg: bytes, width: int, height: int, marker: int | None = None) -> bytes:
    """The first frame header segment of ``jpeg`` claiming another size (and maybe marker)."""
    start, end = jpeg_frame(jpeg)
    segment = bytearray(jpeg[start:end])
    segment[5:9] = struct.pack(">HH", height, width)
    if marker is not None:
        segment[1] = marker
    return bytes(segment)


def jpeg_scans(jpeg: bytes) -> list[tuple[int, int]]:
    """(offset, end) of every scan: its start-of-scan segment and the entropy-coded data after it,
    up to the next marker (one that is not a stuffed zero, a restart marker or a fill byte)."""
    scans, i = [], jpeg.find(b"\xff\xda")
    while i >= 0:
        data = i + 2 + int.from_bytes(jpeg[i + 2 : i + 4], "big")
        found = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]").search(jpeg, data)
        assert found is not None, "no marker after the scan"
        scans.append((i, found.start()))
        i = jpeg.find(b"\xff\xda", found.start())
    return scans


def jpeg_with_scans(jpeg: bytes, count: int) -> bytes:
    """A progressive ``jpeg`` grown to ``count`` scans by repeating its first scan (the DC
    coefficients, which a repeat sets to the same values again), as a scan bomb is made."""
    scans = jpeg_scans(jpeg)
    assert 1 <= len(scans) <= count
    start, end = scans[0]
    return jpeg[:end] + jpeg[start:end] * (count - len(scans)) + jpeg[end:]


# -- watching the decoder ------------------------------------------------------------------------


class DecodeWatcher:
    """Stands in for OpenCV and passes everything through, checking each image it decodes: it
    must fit the limits and have exactly the size the header check read (reduced by ``reduction``).

    A check that read a header differently from the decoder, or counted fewer bytes than the
    decoder returned, fails here even when a later check would have refused the result.
    """

    def __init__(
        self, max_pixels: int, max_decoded_bytes: int, reduction: int = 1, max_jpeg_scans: int | None = None
    ) -> None:
        import cv2

        self._cv2 = cv2
        self.max_pixels = max_pixels
        self.max_decoded_bytes = max_decoded_bytes
        self.reduction = reduction
        self.max_jpeg_scans = max_jpeg_scans
        self.decoded: list[tuple[tuple[int, ...], int]] = []

    def __call__(self) -> DecodeWatcher:
        return self  # so it can replace the module's cv2 loader

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cv2, name)

    def imdecode(self, buf: Any, flags: int) -> Any:
        from verifykit.face import probe

        out = self._cv2.imdecode(buf, flags)
        if out is not None:
            info = probe(bytes(buf))
            r = self.reduction
            declared = (-(-info.height // r), -(-info.width // r))
            assert out.shape[:2] == declared, f"decoded {out.shape[:2]}, the header said {declared}"
            assert out.shape[0] * out.shape[1] <= self.max_pixels, "decoded past the pixel limit"
            assert out.nbytes <= self.max_decoded_bytes, "decoded past the decoded-bytes limit"
            assert out.nbytes <= info.decoded_bytes, "the header check counted fewer bytes"
            if self.max_jpeg_scans is not None:
                assert info.scans <= self.max_jpeg_scans, "decoded past the scan limit"
            self.decoded.append((out.shape, out.nbytes))
        return out
