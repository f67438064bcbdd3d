"""Decoder bombs: small files that make a native decoder do work their headers do not show.

Each declares an image the limits admit, so a header check alone lets it through; the work hides
elsewhere: in chunks libpng inflates on its own (compressed text), in image data that go on past
the declared rows, in a lossless WebP's prefix-code groups, in a JPEG's fill bytes, restart
markers, scans or marker segments. They are built byte by byte and stay a few MiB at most.
"""

from __future__ import annotations

import zlib

import cv2
import numpy as np
from image_files import (
    PNG_SIGNATURE,
    jpeg_scans,
    jpeg_segment,
    jpeg_with_scans,
    png,
    png_chunk,
    png_chunk_list,
    png_ihdr,
    riff,
    webp_chunk,
)

MiB = 1 << 20


def _encoded(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


def _gradient(height: int, width: int, channels: int = 3) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    layers = [(x * 7) & 255, (y * 5) & 255, (x + y) & 255, 200 + (x & 31)][:channels]
    return np.dstack(layers).astype(np.uint8)


def _png_from(chunks: list[bytes]) -> bytes:
    return PNG_SIGNATURE + b"".join(chunks)


# -- PNG -----------------------------------------------------------------------------------------


def png_text_bomb(chunks: int = 300, inflated: int = 8 * MiB) -> bytes:
    """A small PNG with ``chunks`` zTXt chunks, each inflating to ``inflated`` bytes (libpng's
    default cap on one chunk is 8 MB): about 2.4 MB of file, 2.4 GB of text for libpng."""
    text = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(inflated), 9))
    return png(64, 48, before_data=[text] * chunks)


def png_rows_then_more(width: int = 1, height: int = 1, extra: int = 16 * MiB) -> bytes:
    """A PNG whose one deflate stream makes the declared rows, then ``extra`` bytes more."""
    rows = height * (1 + 3 * width)
    idat = png_chunk(b"IDAT", zlib.compress(bytes(rows + extra), 9))
    return _png_from([png_ihdr(width, height), idat, png_chunk(b"IEND", b"")])


def png_rows_then_another_stream(extra: int = 16 * MiB) -> bytes:
    """A 1x1 PNG whose deflate stream ends after its row, followed by a second stream of
    ``extra`` bytes in the image data."""
    idat = png_chunk(b"IDAT", zlib.compress(bytes(4)) + zlib.compress(bytes(extra), 9))
    return _png_from([png_ihdr(1, 1), idat, png_chunk(b"IEND", b"")])


def png_rows_unended(width: int = 8, height: int = 8) -> bytes:
    """A PNG whose deflate stream makes exactly the declared rows but never ends."""
    packer = zlib.compressobj()
    body = packer.compress(bytes(height * (1 + 3 * width))) + packer.flush(zlib.Z_SYNC_FLUSH)
    return _png_from([png_ihdr(width, height), png_chunk(b"IDAT", body), png_chunk(b"IEND", b"")])


def png_short_rows(width: int = 64, height: int = 48, missing: int = 1) -> bytes:
    """A PNG whose (complete, checksummed) deflate stream makes ``missing`` bytes fewer than the
    declared rows."""
    rows = bytes(height * (1 + 3 * width) - missing)
    return _png_from(
        [png_ihdr(width, height), png_chunk(b"IDAT", zlib.compress(rows)), png_chunk(b"IEND", b"")]
    )


def png_split_image_data(width: int = 16, height: int = 16) -> bytes:
    """A well-formed PNG whose image data are split in two IDAT chunks with a text chunk between."""
    chunks = png_chunk_list(png(width, height))
    body = chunks[1][8:-4]
    half = len(body) // 2
    text = png_chunk(b"tEXt", b"Comment\x00between")
    return _png_from(
        [chunks[0], png_chunk(b"IDAT", body[:half]), text, png_chunk(b"IDAT", body[half:]), chunks[-1]]
    )


# -- WebP ----------------------------------------------------------------------------------------


class _BitWriter:
    """Bits least significant first, as VP8L reads them."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._value = 0
        self._bits = 0

    def put(self, value: int, bits: int) -> None:
        self._value |= value << self._bits
        self._bits += bits
        while self._bits >= 8:
            self._out.append(self._value & 0xFF)
            self._value >>= 8
            self._bits -= 8

    def code(self, value: int, bits: int) -> None:
        """A prefix code: its bits most significant first."""
        self.put(int(f"{value:0{bits}b}"[::-1], 2), bits)

    def bytes(self) -> bytes:
        return bytes(self._out) + (bytes([self._value]) if self._bits else b"")


def _vp8l_single_symbol(w: _BitWriter) -> None:
    """A simple prefix code of one symbol, 0: it costs no bits to read."""
    w.put(1, 1)  # simple code
    w.put(0, 1)  # one symbol
    w.put(0, 1)  # a one-bit symbol
    w.put(0, 1)  # the symbol 0


def _vp8l_all_eight_bits(w: _BitWriter) -> None:
    """A normal prefix code giving symbols 0-255 eight bits each (the code of ``s`` is ``s``)."""
    w.put(0, 1)  # normal code
    w.put(12 - 4, 4)  # 12 code-length code lengths, enough to reach the one for length 8
    for i in range(12):
        w.put(1 if i == 11 else 0, 3)  # kCodeLengthCodeOrder[11] is 8: the only length used
    w.put(1, 1)  # a symbol count follows
    w.put(3, 3)  # in 2 + 2 * 3 = 8 bits
    w.put(256 - 2, 8)  # 256 code lengths, each 8 (a one-symbol code: no bits)


def webp_lossless_group_bomb(side: int = 1024) -> bytes:
    """A ``side`` x ``side`` lossless WebP whose entropy image (one pixel per 4 x 4 block) names
    a prefix-code group of its own for each block: 65,536 groups at 1024 x 1024, each a few KiB of
    Huffman tables (libwebp allocates all of them before decoding a pixel). Every group's codes
    have one symbol, so the pixels themselves take no bits: about 300 KB of file."""
    w = _BitWriter()
    w.put(0x2F, 8)
    w.put(side - 1, 14)
    w.put(side - 1, 14)
    w.put(0, 1)  # no alpha
    w.put(0, 3)  # version 0
    w.put(0, 1)  # no transform
    w.put(0, 1)  # no colour cache
    w.put(1, 1)  # meta prefix codes: an entropy image follows
    w.put(0, 3)  # one entropy pixel per 2**(0 + 2) = 4 pixels square
    blocks = -(-side // 4)
    # the entropy image: no colour cache; green and red 8-bit literals, the rest one symbol
    w.put(0, 1)
    _vp8l_all_eight_bits(w)  # green
    _vp8l_all_eight_bits(w)  # red
    for _ in range(3):  # blue, alpha, distance
        _vp8l_single_symbol(w)
    for i in range(blocks * blocks):
        group = i % (1 << 16)
        w.code(group & 0xFF, 8)  # green: the group's low byte
        w.code(group >> 8, 8)  # red: its high byte
    for _ in range(min(blocks * blocks, 1 << 16) * 5):  # five codes for each group
        _vp8l_single_symbol(w)
    return riff([webp_chunk(b"VP8L", w.bytes())])


def webp_lossless(width: int = 64, height: int = 48) -> bytes:
    """An ordinary lossless WebP from OpenCV's encoder."""
    return _encoded(".webp", _gradient(height, width), cv2.IMWRITE_WEBP_QUALITY, 101)


def webp_lossless_alpha(width: int = 64, height: int = 48) -> bytes:
    """A lossy WebP with alpha from OpenCV's encoder: its ALPH chunk is VP8L-coded."""
    return _encoded(".webp", _gradient(height, width, 4), cv2.IMWRITE_WEBP_QUALITY, 90)


# -- JPEG ----------------------------------------------------------------------------------------


def jpeg(width: int = 64, height: int = 48, *params: int) -> bytes:
    return _encoded(".jpg", _gradient(height, width), *params)


def jpeg_fill_before_marker(fill: int = 4 * MiB) -> bytes:
    """A JPEG with ``fill`` fill bytes (0xFF) before its first frame header."""
    data = jpeg()
    at = data.index(b"\xff\xc0")
    return data[:at] + b"\xff" * fill + data[at:]


def jpeg_fill_in_scan(fill: int = 4 * MiB) -> bytes:
    """A JPEG with ``fill`` fill bytes at the end of its scan's entropy-coded data."""
    data = jpeg()
    _, end = jpeg_scans(data)[-1]
    return data[:end] + b"\xff" * fill + data[end:]


def jpeg_restart_flood(restarts: int = 1 << 20) -> bytes:
    """A JPEG with ``restarts`` restart markers at the end of its scan: far more than it has MCUs."""
    data = jpeg(16, 16)
    _, end = jpeg_scans(data)[-1]
    flood = b"".join(bytes([0xFF, 0xD0 + i % 8]) for i in range(8)) * (restarts // 8)
    return data[:end] + flood + data[end:]


def jpeg_many_scans(scans: int = 10_000) -> bytes:
    """A progressive JPEG of ``scans`` scans (its first scan repeated)."""
    return jpeg_with_scans(jpeg(64, 48, cv2.IMWRITE_JPEG_PROGRESSIVE, 1), scans)


def jpeg_many_segments(segments: int = 1 << 20) -> bytes:
    """A JPEG with ``segments`` empty comment segments before its frame header."""
    data = jpeg()
    return data[:2] + jpeg_segment(0xFE, b"") * segments + data[2:]


def jpeg_with_restarts(width: int = 256, height: int = 256, interval: int = 1) -> bytes:
    """An ordinary JPEG with a restart marker every ``interval`` MCUs."""
    return jpeg(width, height, cv2.IMWRITE_JPEG_RST_INTERVAL, interval)


#: Every bomb family, by name, as the memory test runs them.
BOMBS = {
    "png-compressed-text": png_text_bomb,
    "png-rows-then-more": png_rows_then_more,
    "png-rows-then-another-stream": png_rows_then_another_stream,
    "png-short-rows": png_short_rows,
    "webp-lossless-groups": webp_lossless_group_bomb,
    "jpeg-fill-before-marker": jpeg_fill_before_marker,
    "jpeg-fill-in-scan": jpeg_fill_in_scan,
    "jpeg-restart-flood": jpeg_restart_flood,
    "jpeg-many-scans": jpeg_many_scans,
    "jpeg-many-segments": jpeg_many_segments,
}

#: The bombs whose image is decoded (without the hidden work) rather than refused.
DECODED = frozenset({"png-compressed-text"})
