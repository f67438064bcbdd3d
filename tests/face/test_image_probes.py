"""Properties of the header checks, over layouts built chunk by chunk and segment by segment.

Whatever the order of chunks, however often a size header repeats, wherever a file is cut and
whatever its bit depth and colour type: OpenCV is never asked to decode past the limits, and what
it decodes has exactly the size the header check read (see ``DecodeWatcher``).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from functools import cache
from typing import Any
from unittest import mock

import cv2
import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from image_files import (
    PNG_DEPTHS,
    DecodeWatcher,
    jpeg_frame,
    jpeg_frame_resized,
    png,
    png_chunk,
    png_chunk_list,
    png_ihdr,
    riff,
    tiff_orientation,
    vp8x,
    webp_chunk,
    webp_chunk_list,
)

from verifykit import ImageError
from verifykit.face import _image
from verifykit.face._image import load_image

SIZES = [(1, 1), (7, 5), (30, 20), (40, 30), (64, 48)]
PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Limits around the sizes above, so that some layouts fit and some do not.
max_pixels = st.sampled_from([35, 600, 1_200, 3_072, 100_000, 100_000])
max_decoded_bytes = st.sampled_from([105, 1_800, 4_000, 9_216, 20_000, 60_000, 10**6, 10**6])
# Most layouts whole; some cut anywhere.
cuts = st.sampled_from([None, None, None]) | st.floats(0.05, 0.999)


def decode_watched(data: bytes, pixels: int, decoded_bytes: int) -> str:
    """Load ``data`` with OpenCV watched; the outcome ("decoded" or "refused") for statistics."""
    watcher = DecodeWatcher(pixels, decoded_bytes)
    with mock.patch.object(_image, "_cv2", watcher):
        try:
            load_image(data, max_bytes=10**7, max_pixels=pixels, max_decoded_bytes=decoded_bytes)
        except ImageError:
            return "refused"
    return "decoded"


def gradient(height: int, width: int, channels: int) -> np.ndarray:
    y, x = np.mgrid[:height, :width]
    layers = [(x * 37) & 255, (y * 23) & 255, (x * y) & 255, ((x + y) * 40) & 255][:channels]
    return np.dstack(layers).astype(np.uint8)


def encode(ext: str, array: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, array, list(params))
    assert ok
    return buf.tobytes()


def cut(data: bytes, where: float | None) -> bytes:
    return data if where is None else data[: int(len(data) * where)]


# -- WebP ----------------------------------------------------------------------------------------


@cache
def webp_pieces() -> list[tuple[bytes, tuple[int, int], bytes | None]]:
    """(image chunk, its size, its ALPH chunk) from OpenCV's encoder: lossy and lossless, with
    and without alpha."""
    pieces = []
    for width, height in SIZES:
        for channels in (3, 4):
            for quality in (80, 101):
                data = encode(".webp", gradient(height, width, channels), cv2.IMWRITE_WEBP_QUALITY, quality)
                chunks = dict(webp_chunk_list(data))
                kind = b"VP8L" if b"VP8L" in chunks else b"VP8 "
                alpha = webp_chunk(b"ALPH", chunks[b"ALPH"]) if b"ALPH" in chunks else None
                pieces.append((webp_chunk(kind, chunks[kind]), (width, height), alpha))
    return pieces


@st.composite
def webp_layouts(draw: st.DrawFn) -> bytes:
    """A real image chunk, maybe under a VP8X header (with its canvas or another), with other
    chunks (more headers, alpha, EXIF, animation, unknown) put anywhere, and a RIFF size that
    may lie."""
    image, size, alpha = draw(st.sampled_from(webp_pieces()))
    chunks = [image]
    if draw(st.booleans()):
        canvas = draw(st.sampled_from([size, size, *SIZES, (16383, 16383), (1 << 24, 1)]))
        flags = draw(st.sampled_from([0, 0x10, 0x10, 0x02, 0x08, 0x20]))
        chunks = [vp8x(*canvas, flags=flags)] + ([alpha] if alpha and draw(st.booleans()) else []) + chunks
    extras = st.one_of(
        st.builds(lambda p: p[0], st.sampled_from(webp_pieces())),
        st.builds(lambda c: vp8x(*c), st.sampled_from(SIZES)),
        st.builds(lambda o: webp_chunk(b"EXIF", tiff_orientation(o)), st.integers(1, 8)),
        st.sampled_from(
            [webp_chunk(b"ANIM", b"\0" * 6), webp_chunk(b"ANMF", b"\0" * 16), webp_chunk(b"XYZW", b"1")]
        ),
    )
    for extra in draw(st.lists(extras, max_size=2)):
        at = draw(st.integers(0, len(chunks)))
        chunks.insert(at, extra)
    if draw(st.booleans()):
        chunks = draw(st.permutations(chunks))
    return riff(chunks, draw(st.sampled_from([0, 0, 0, 0, -2, 2, -9, 64])))


@PROPERTY
@given(data=webp_layouts(), where=cuts, pixels=max_pixels, decoded_bytes=max_decoded_bytes)
def test_webp_in_any_chunk_order_never_decodes_past_the_limits(
    data: bytes, where: float | None, pixels: int, decoded_bytes: int
) -> None:
    event(decode_watched(cut(data, where), pixels, decoded_bytes))


# -- PNG -----------------------------------------------------------------------------------------

DEPTHS = [(colour, depth) for colour, depths in PNG_DEPTHS.items() for depth in depths]
TRANSPARENCY = {0: b"\x00\x01", 2: b"\x00\x01\x00\x02\x00\x03", 3: b"\x00\x80"}

Mutation = Callable[[list[bytes]], list[bytes]]


@st.composite
def png_mutation(draw: st.DrawFn) -> Mutation:
    kind = draw(st.sampled_from(["another header", "header moved", "animation", "checksum", "dropped"]))
    at = draw(st.integers(0, 8))
    width, height = draw(st.sampled_from([*SIZES, (20000, 20000)]))
    colour, depth = draw(st.sampled_from(DEPTHS))

    def mutate(chunks: list[bytes]) -> list[bytes]:
        i = at % (len(chunks) + 1)
        if kind == "another header":
            return [*chunks[:i], png_ihdr(width, height, depth, colour), *chunks[i:]]
        if kind == "header moved":
            return chunks[1:i] + chunks[:1] + chunks[i:] if i > 1 else chunks
        if kind == "animation":
            return [*chunks[:i], png_chunk(b"acTL", struct.pack(">II", 2, 0)), *chunks[i:]]
        if kind == "checksum" and i < len(chunks):
            return [*chunks[:i], chunks[i][:-1] + bytes([chunks[i][-1] ^ 1]), *chunks[i + 1 :]]
        if kind == "dropped" and i < len(chunks):
            return chunks[:i] + chunks[i + 1 :]
        return chunks

    return mutate


@PROPERTY
@given(
    size=st.sampled_from(SIZES),
    colour_depth=st.sampled_from(DEPTHS),
    interlace=st.integers(0, 1),
    transparency=st.booleans(),
    mutations=st.lists(png_mutation(), max_size=3),
    where=cuts,
    pixels=max_pixels,
    decoded_bytes=max_decoded_bytes,
)
def test_png_of_any_depth_and_chunk_order_never_decodes_past_the_limits(
    size: tuple[int, int],
    colour_depth: tuple[int, int],
    interlace: int,
    transparency: bool,
    mutations: list[Mutation],
    where: float | None,
    pixels: int,
    decoded_bytes: int,
) -> None:
    colour, depth = colour_depth
    extra = [png_chunk(b"tRNS", TRANSPARENCY[colour])] if transparency and colour in TRANSPARENCY else []
    chunks = png_chunk_list(png(*size, depth, colour, interlace=interlace, before_data=extra))
    for mutate in mutations:
        chunks = mutate(chunks)
    data = cut(b"\x89PNG\r\n\x1a\n" + b"".join(chunks), where)
    event(decode_watched(data, pixels, decoded_bytes))


# -- JPEG ----------------------------------------------------------------------------------------

_MARKER = re.compile(rb"\xff[\xc0-\xfe]")
SAMPLING = [cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420]


@cache
def jpegs() -> list[bytes]:
    out = []
    for width, height in SIZES[1:]:
        for channels in (1, 3):
            for progressive in (0, 1):
                for sampling in SAMPLING[: 1 if channels == 1 else 2]:
                    image = gradient(height, width, channels)
                    params = [
                        cv2.IMWRITE_JPEG_PROGRESSIVE,
                        progressive,
                        cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
                        sampling,
                    ]
                    out.append(encode(".jpg", image, *params))
    return out


@st.composite
def jpeg_layouts(draw: st.DrawFn) -> bytes:
    """A real JPEG with, maybe, frame headers added, moved or changed at marker boundaries."""
    data = draw(st.sampled_from(jpegs()))
    for _ in range(draw(st.integers(0, 2))):
        boundaries = [m.start() for m in _MARKER.finditer(data)]
        at = draw(st.sampled_from(boundaries))
        kind = draw(st.sampled_from(["another frame", "frame moved", "frame changed"]))
        width, height = draw(st.sampled_from([*SIZES, (9000, 9000)]))
        marker = draw(st.sampled_from([0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC9, 0xCA]))
        start, end = jpeg_frame(data) if re.search(rb"\xff[\xc0\xc2]", data) else (0, 0)
        if kind == "another frame" and end:
            data = data[:at] + jpeg_frame_resized(data, width, height, marker) + data[at:]
        elif kind == "frame moved" and end and at > end:
            data = data[:start] + data[end:at] + data[start:end] + data[at:]
        elif kind == "frame changed" and end:
            frame = bytearray(jpeg_frame_resized(data, width, height, marker))
            frame[4] = draw(st.sampled_from([8, 8, 12, 16]))
            data = data[:start] + bytes(frame) + data[end:]
    return data


@PROPERTY
@given(
    data=jpeg_layouts(),
    where=cuts,
    pixels=max_pixels,
    decoded_bytes=max_decoded_bytes,
)
def test_jpeg_with_any_frame_headers_never_decodes_past_the_limits(
    data: bytes, where: float | None, pixels: int, decoded_bytes: int
) -> None:
    event(decode_watched(cut(data, where), pixels, decoded_bytes))


# -- truncation ----------------------------------------------------------------------------------


class Refusing:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"cv2.{name} was used for a truncated file")


@st.composite
def well_formed(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["jpeg", "png", "webp"]))
    if kind == "jpeg":
        return draw(st.sampled_from(jpegs()))
    if kind == "webp":
        return riff([draw(st.sampled_from(webp_pieces()))[0]])
    colour, depth = draw(st.sampled_from(DEPTHS))
    return png(*draw(st.sampled_from(SIZES)), depth, colour, interlace=draw(st.integers(0, 1)))


@PROPERTY
@given(data=well_formed(), where=st.floats(0.0, 1.0, exclude_max=True))
def test_every_truncated_file_is_refused_before_decoding(data: bytes, where: float) -> None:
    assert decode_watched(data, 10**6, 10**8) == "decoded"
    with mock.patch.object(_image, "_cv2", Refusing):
        try:
            load_image(
                data[: int(len(data) * where)], max_bytes=10**7, max_pixels=10**6, max_decoded_bytes=10**8
            )
        except ImageError:
            return
    raise AssertionError("a truncated file was accepted")
