"""Image probes and decoding with the default face limits: untrusted photo bytes.

``CustomMutator`` keeps what libFuzzer changes well formed where the header checks would stop a
random byte flip at once: PNG chunks keep their lengths and CRCs, JPEG marker segments their
lengths, WebP chunks and the RIFF header their sizes. It moves, repeats, drops and inserts whole
chunks and segments (compressed text, ICC profiles, restart markers, fill bytes, extra scans,
image data that inflate past the rows, VP8L headers), so the search reaches the decoders behind
the checks. The runner's ``-rss_limit_mb`` and ``-timeout`` make any decoder bomb a finding.
"""

from __future__ import annotations

import random
import re
import struct
import zlib
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from verifykit.face import FaceSettings
from verifykit.face._image import load_image, probe

from ._support import typed

#: Memory one call may hold above the idle process: the 512 MiB goal in docs/face.md.
RSS_MB = 512
#: Seconds one input may take: an ordinary decode of the largest admitted photo takes about one.
TIMEOUT = 10
MAX_LEN = 64 * 1024
_SETTINGS = FaceSettings()

T = TypeVar("T")
# A byte-level mutation: (data, max_size) -> data, libFuzzer's own when fuzzing.
ByteMutator = Callable[[bytes, int], bytes]


def TestOneInput(data: bytes) -> None:
    info = typed(lambda: probe(data))
    image = typed(
        lambda: load_image(
            data,
            max_bytes=_SETTINGS.max_bytes,
            max_pixels=_SETTINGS.max_pixels,
            max_decoded_bytes=_SETTINGS.max_decoded_bytes,
            work_min_side=_SETTINGS.work_min_side,
        )
    )
    if image is None:
        return
    # Decoding never goes past what the probe let through.
    assert info is not None and info.decoded_bytes <= _SETTINGS.max_decoded_bytes
    assert image.rgb.dtype == np.uint8 and image.rgb.ndim == 3 and image.rgb.shape[2] == 3
    assert image.original_size == info.upright_size
    full = typed(image.full)
    if full is not None:
        assert (full.rgb.shape[1], full.rgb.shape[0]) == info.upright_size


def CustomMutator(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's custom mutator: :func:`mutate` with libFuzzer's byte mutation."""
    import atheris

    return mutate(data, max_size, seed, atheris.Mutate)


def mutate(data: bytes, max_size: int, seed: int, mutate_bytes: ByteMutator) -> bytes:
    """One structure-aware mutation of ``data`` (or, one time in eight, a plain byte mutation,
    which also breaks the structure now and then)."""
    rng = random.Random(seed)
    if rng.randrange(8) == 0:
        return mutate_bytes(data, max_size)
    if data.startswith(PNG_SIGNATURE):
        out = _mutate_png(data, rng, mutate_bytes)
    elif data.startswith(b"\xff\xd8"):
        out = _mutate_jpeg(data, rng, mutate_bytes)
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        out = _mutate_webp(data, rng, mutate_bytes)
    else:
        return mutate_bytes(data, max_size)
    return out if len(out) <= max_size else mutate_bytes(data, max_size)


def _compressed(rng: random.Random) -> bytes:
    """A small deflate stream that inflates to much more: up to 4 MiB."""
    return zlib.compress(bytes(rng.choice([1, 7, 100, 4096, 1 << 20, 4 << 20])), 9)


def _body(body: bytes, rng: random.Random, mutate_bytes: ByteMutator) -> bytes:
    return mutate_bytes(body, max(len(body) * 2, len(body) + rng.randint(1, 64)))


def _shuffle_items(items: list[T], rng: random.Random, keep_first: int) -> None:
    """Drop, repeat or swap one item (never the first ``keep_first``)."""
    if len(items) <= keep_first:
        return
    i = rng.randrange(keep_first, len(items))
    move = rng.randrange(3)
    if move == 0:
        del items[i]
    elif move == 1:
        items.insert(rng.randrange(keep_first, len(items) + 1), items[i])
    else:
        j = rng.randrange(keep_first, len(items))
        items[i], items[j] = items[j], items[i]


# -- PNG -----------------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each whole chunk, read leniently (CRCs ignored, a cut-off tail dropped)."""
    out, pos = [], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        if pos + 12 + length > len(data):
            break
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def png_file(chunks: list[tuple[bytes, bytes]]) -> bytes:
    """A PNG of these chunks, each with its length and CRC."""
    return PNG_SIGNATURE + b"".join(
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        for kind, body in chunks
    )


def _png_new_chunk(rng: random.Random) -> tuple[bytes, bytes]:
    kind = rng.choice(
        [b"zTXt", b"iCCP", b"iTXt", b"tEXt", b"eXIf", b"tRNS", b"PLTE", b"IDAT", b"acTL", b"gAMA"]
    )
    if kind == b"zTXt":
        return kind, b"Comment\x00\x00" + _compressed(rng)
    if kind == b"iCCP":
        return kind, b"icc\x00\x00" + _compressed(rng)
    if kind == b"iTXt":
        return kind, b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + _compressed(rng)
    if kind == b"eXIf":
        orientation = struct.pack(">HHIHH", 0x0112, 3, 1, rng.randint(0, 9), 0)
        return kind, b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + orientation + bytes(4)
    if kind == b"IDAT":
        return kind, _compressed(rng)
    return kind, bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 2, 3, 6, 13, 768])))


def _png_header(rng: random.Random) -> bytes:
    colour = rng.choice(list(_PNG_DEPTHS))
    size = rng.choice([1, 2, 7, 64, 1000, 20000, 1 << 31])
    return struct.pack(
        ">IIBBBBB",
        rng.choice([1, 3, size]),
        rng.choice([1, 5, size]),
        rng.choice(_PNG_DEPTHS[colour]),
        colour,
        0,
        0,
        rng.randint(0, 1),
    )


def _png_image_data(rng: random.Random, chunks: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The image data inflated, then grown, shrunk, continued by a second stream or split."""
    body = b"".join(b for k, b in chunks if k == b"IDAT")
    try:
        rows = zlib.decompressobj().decompress(body, 1 << 22)
    except zlib.error:
        rows = b""
    move = rng.randrange(4)
    if move == 0:
        rows += bytes(rng.choice([1, 100, 1 << 20]))
    elif move == 1:
        rows = rows[: rng.randrange(len(rows) + 1)]
    stream = zlib.compress(rows)
    if move == 2:
        stream += _compressed(rng)
    cut = rng.randrange(len(stream) + 1) if move == 3 else len(stream)
    idats = [(b"IDAT", stream[:cut]), (b"IDAT", stream[cut:])] if cut < len(stream) else [(b"IDAT", stream)]
    first = next((i for i, (k, _) in enumerate(chunks) if k == b"IDAT"), len(chunks))
    rest = [c for c in chunks[first:] if c[0] != b"IDAT"]
    return chunks[:first] + idats + rest


def _mutate_png(data: bytes, rng: random.Random, mutate_bytes: ByteMutator) -> bytes:
    chunks = png_chunks(data)
    move = rng.randrange(5)
    if move == 0 and chunks:
        i = rng.randrange(len(chunks))
        chunks[i] = (chunks[i][0], _body(chunks[i][1], rng, mutate_bytes))
    elif move == 1:
        chunks.insert(rng.randrange(len(chunks) + 1), _png_new_chunk(rng))
    elif move == 2:
        _shuffle_items(chunks, rng, keep_first=1)
    elif move == 3 and chunks and chunks[0][0] == b"IHDR":
        chunks[0] = (b"IHDR", _png_header(rng))
    else:
        chunks = _png_image_data(rng, chunks)
    return png_file(chunks)


# -- JPEG ----------------------------------------------------------------------------------------

_JPEG_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_ENTROPY = -1  # an item holding a scan's entropy-coded data
_FILL = -2  # an item holding fill bytes, written before the next marker


def _standalone(marker: int) -> bool:
    """End of image, TEM and restart markers: no length, no payload."""
    return marker in (0xD9, 0x01) or 0xD0 <= marker <= 0xD7


def jpeg_items(data: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of each marker segment after SOI, and (-1, entropy-coded data) after
    each scan; read leniently, stopping where the structure ends."""
    items: list[tuple[int, bytes]] = []
    i = 2
    while i + 1 < len(data) and data[i] == 0xFF:
        while i < len(data) and data[i] == 0xFF:
            i += 1
        if i >= len(data):
            break
        marker = data[i]
        i += 1
        if _standalone(marker):
            items.append((marker, b""))
            if marker == 0xD9:
                break
            continue
        length = int.from_bytes(data[i : i + 2], "big")
        if length < 2 or i + length > len(data):
            break
        items.append((marker, data[i + 2 : i + length]))
        i += length
        if marker == 0xDA:
            found = _JPEG_NEXT_MARKER.search(data, i)
            end = found.start() if found else len(data)
            items.append((_ENTROPY, data[i:end]))
            i = end
    return items


def jpeg_file(items: list[tuple[int, bytes]]) -> bytes:
    """A JPEG of these items, each segment with its length (a payload cut to fit one)."""
    out = [b"\xff\xd8"]
    for marker, payload in items:
        if marker in (_ENTROPY, _FILL):
            out.append(payload)
        elif _standalone(marker):
            out.append(bytes([0xFF, marker]))
        else:
            cut = payload[:0xFFFD]
            out.append(bytes([0xFF, marker]) + struct.pack(">H", len(cut) + 2) + cut)
    return b"".join(out)


def _jpeg_new_segment(rng: random.Random, items: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    kind = rng.randrange(5)
    if kind == 0:
        return [(0xDD, struct.pack(">H", rng.choice([0, 1, 2, 100, 0xFFFF])))]  # DRI
    if kind == 1:
        return [(0xFE, bytes(rng.choice([0, 1, 1000])))]  # COM
    if kind == 2:
        orientation = struct.pack(">HHIHH", 0x0112, 3, 1, rng.randint(0, 9), 0)
        tiff = b"MM\x00\x2a" + struct.pack(">IH", 8, 1) + orientation + bytes(4)
        return [(0xE1, b"Exif\x00\x00" + tiff)]
    scans = [i for i, (m, _) in enumerate(items) if m == 0xDA]
    if kind == 3 and scans:  # a scan again: its header and entropy-coded data
        i = rng.choice(scans)
        return items[i : i + 2] * rng.choice([1, 2, 50])
    frames = [p for m, p in items if 0xC0 <= m <= 0xCF and m not in (0xC4, 0xC8, 0xCC)]
    if frames and len(frames[0]) >= 5:
        frame = bytearray(frames[0])
        frame[1:5] = struct.pack(">HH", rng.choice([1, 8, 500, 65500]), rng.choice([1, 8, 500, 65500]))
        return [(rng.choice([0xC0, 0xC1, 0xC2, 0xC3, 0xC9]), bytes(frame))]
    return []


def _jpeg_entropy(payload: bytes, rng: random.Random) -> bytes:
    """Restart markers or fill bytes put into entropy-coded data."""
    at = rng.randrange(len(payload) + 1)
    if rng.randrange(2):
        count = rng.choice([1, 2, 8, 1000])
        insert = b"".join(bytes([0xFF, 0xD0 + k % 8]) for k in range(count))
    else:  # fill bytes only where a marker follows: at the end
        insert, at = b"\xff" * rng.choice([1, 1024, 1025, 4000]), len(payload)
    if at and payload[at - 1] == 0xFF:
        at -= 1  # never between a 0xFF and its stuffed zero
    return payload[:at] + insert + payload[at:]


def _mutate_jpeg(data: bytes, rng: random.Random, mutate_bytes: ByteMutator) -> bytes:
    items = jpeg_items(data)
    move = rng.randrange(5)
    segments = [i for i, (m, _) in enumerate(items) if m != _ENTROPY]
    entropy = [i for i, (m, _) in enumerate(items) if m == _ENTROPY]
    if move == 0 and segments:
        i = rng.choice(segments)
        items[i] = (items[i][0], _body(items[i][1], rng, mutate_bytes))
    elif move == 1:
        at = rng.randrange(len(items) + 1)
        items[at:at] = _jpeg_new_segment(rng, items)
    elif move == 2:
        _shuffle_items(items, rng, keep_first=0)
    elif move == 3 and entropy:
        i = rng.choice(entropy)
        items[i] = (_ENTROPY, _jpeg_entropy(items[i][1], rng))
    else:  # fill bytes before a marker
        at = rng.choice(segments) if segments else len(items)
        items.insert(at, (_FILL, b"\xff" * rng.choice([1, 1024, 1025, 100_000])))
    return jpeg_file(items)


# -- WebP ----------------------------------------------------------------------------------------


def webp_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of each whole chunk after the RIFF header, read leniently."""
    out, pos = [], 12
    while pos + 8 <= len(data):
        (length,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        if pos + 8 + length > len(data):
            break
        out.append((data[pos : pos + 4], data[pos + 8 : pos + 8 + length]))
        pos += 8 + length + (length & 1)
    return out


def webp_file(chunks: list[tuple[bytes, bytes]], size_delta: int = 0) -> bytes:
    """A WebP of these chunks, each with its size and padding, in a RIFF of the right size
    (give or take ``size_delta``)."""
    body = b"WEBP" + b"".join(
        kind + struct.pack("<I", len(b)) + b + (b"\x00" if len(b) & 1 else b"") for kind, b in chunks
    )
    return b"RIFF" + struct.pack("<I", max(0, len(body) + size_delta)) + body


def _vp8l_header(rng: random.Random) -> bytes:
    """A VP8L header of any size, alpha hint and version, then a few bytes of bitstream."""
    width, height = rng.choice([1, 64, 1024, 16384]), rng.choice([1, 48, 1024, 16384])
    bits = (width - 1) | (height - 1) << 14 | rng.randint(0, 1) << 28 | rng.choice([0, 0, 0, 1]) << 29
    return (
        b"\x2f" + struct.pack("<I", bits) + bytes(rng.randrange(256) for _ in range(rng.choice([0, 8, 64])))
    )


def _mutate_webp(data: bytes, rng: random.Random, mutate_bytes: ByteMutator) -> bytes:
    chunks = webp_chunks(data)
    move = rng.randrange(5)
    if move == 0 and chunks:
        i = rng.randrange(len(chunks))
        chunks[i] = (chunks[i][0], _body(chunks[i][1], rng, mutate_bytes))
    elif move == 1:
        kind = rng.choice([b"VP8L", b"ALPH", b"VP8X", b"EXIF", b"ANIM", b"ICCP"])
        if kind == b"VP8L":
            body = _vp8l_header(rng)
        elif kind == b"ALPH":
            body = bytes([rng.randrange(256)]) + bytes(rng.choice([0, 16, 3072]))
        elif kind == b"VP8X":
            size = rng.choice([1, 64, 1 << 14, 1 << 24])
            flags = rng.choice([0, 0x02, 0x10, 0x08, 0x20])
            body = struct.pack("<I", flags) + (size - 1).to_bytes(3, "little") * 2
        else:
            body = bytes(rng.choice([0, 6, 16]))
        chunks.insert(rng.randrange(len(chunks) + 1), (kind, body))
    elif move == 2:
        _shuffle_items(chunks, rng, keep_first=0)
    elif move == 3:
        alpha = [i for i, (k, _) in enumerate(chunks) if k == b"ALPH"]
        if alpha:
            i = rng.choice(alpha)
            chunks[i] = (b"ALPH", bytes([rng.randrange(256)]) + chunks[i][1][1:])
    else:
        return webp_file(chunks, rng.choice([0, 0, 0, -2, 2, 64]))
    return webp_file(chunks)
