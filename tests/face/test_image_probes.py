"""Properties of the header checks, over layouts built chunk by chunk and segment by segment.

Whatever the order of chunks, however often a size header repeats, wherever a file is cut and
whatever its bit depth and colour type: OpenCV is never asked to decode past the limits, and what
it decodes has exactly the size the header check read (see ``DecodeWatcher``).
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from functools import cache
from typing import Any
from unittest import mock

import bombs
import cv2
import numpy as np
import pytest
from face_photos import manifest, photo
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from image_files import (
    PNG_DEPTHS,
    PNG_SIGNATURE,
    DecodeWatcher,
    jpeg_frame,
    jpeg_frame_resized,
    jpeg_scans,
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
from verifykit.face._image import load_image, probe

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
    if kind == "webp":  # lossy: lossless WebP is refused whole
        return riff([draw(st.sampled_from([p for p in webp_pieces() if p[0].startswith(b"VP8 ")]))[0]])
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


# -- decoder bombs: work the headers do not show ------------------------------------------------

LIMITS: dict[str, Any] = {"max_bytes": 15 << 20, "max_pixels": 40_000_000, "max_decoded_bytes": 192 << 20}


class RecordingDecoder:
    """Passes everything to OpenCV and keeps each buffer it is asked to decode."""

    def __init__(self) -> None:
        self.given: list[bytes] = []

    def __call__(self) -> RecordingDecoder:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(cv2, name)

    def imdecode(self, buf: Any, flags: int) -> Any:
        self.given.append(bytes(buf))
        return cv2.imdecode(buf, flags)


def refused_before_decoding(data: bytes, match: str) -> None:
    with mock.patch.object(_image, "_cv2", Refusing), pytest.raises(ImageError, match=match):
        load_image(data, **LIMITS)


def decoded_from_the_original(data: bytes) -> np.ndarray:
    """What ``load_image`` returns when the decoder is given the PNG as it came."""
    with mock.patch.object(_image, "_png_rebuilt", lambda original, _layout: original):
        return load_image(data, **LIMITS).rgb


def with_ancillary_chunks(data: bytes) -> bytes:
    """``data`` with the ancillary chunks encoders write put after its header: gamma, an ICC
    profile, text and compressed text."""
    chunks = png_chunk_list(data)
    extra = [
        png_chunk(b"gAMA", struct.pack(">I", 45455)),
        png_chunk(b"iCCP", b"profile\x00\x00" + zlib.compress(bytes(4096))),
        png_chunk(b"tEXt", b"Software\x00verifykit"),
        png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(b"a portrait" * 100)),
    ]
    return PNG_SIGNATURE + b"".join([chunks[0], *extra, *chunks[1:]])


ORDINARY_PNGS = {
    "rgb": lambda: encode(".png", gradient(48, 64, 3)),
    "rgba": lambda: encode(".png", gradient(48, 64, 4)),
    "16-bit-rgb": lambda: encode(".png", gradient(48, 64, 3).astype(np.uint16) * 257),
    "16-bit-rgba": lambda: encode(".png", gradient(48, 64, 4).astype(np.uint16) * 251),
    "grey": lambda: encode(".png", gradient(48, 64, 1)),
    "grey-alpha": lambda: png(61, 47, 8, 4),
    "16-bit-grey-alpha": lambda: png(61, 47, 16, 4),
    "1-bit-grey": lambda: png(61, 47, 1, 0),
    "interlaced": lambda: png(61, 47, 8, 2, interlace=1),
    "interlaced-16-bit-rgba": lambda: png(61, 47, 16, 6, interlace=1),
    "interlaced-2-bit-grey": lambda: png(5, 3, 2, 0, interlace=1),
    "palette-transparent": lambda: png(61, 47, 4, 3, before_data=[png_chunk(b"tRNS", b"\x00\x80")]),
    "rgb-transparent": lambda: png(61, 47, 8, 2, before_data=[png_chunk(b"tRNS", TRANSPARENCY[2])]),
    "split-image-data": lambda: (
        PNG_SIGNATURE + b"".join(split_image_data(png_chunk_list(encode(".png", gradient(48, 64, 3)))))
    ),
}


def split_image_data(chunks: list[bytes]) -> list[bytes]:
    """The chunks with the image data split into IDAT chunks of 100 bytes, as encoders do."""
    body = b"".join(c[8:-4] for c in chunks if c[4:8] == b"IDAT")
    idats = [png_chunk(b"IDAT", body[i : i + 100]) for i in range(0, len(body), 100)]
    first = next(i for i, c in enumerate(chunks) if c[4:8] == b"IDAT")
    return chunks[:first] + idats + [c for c in chunks[first:] if c[4:8] != b"IDAT"]


@pytest.mark.parametrize("name", list(ORDINARY_PNGS))
def test_a_png_rebuilt_for_the_decoder_gives_the_same_pixels_as_the_original(name: str) -> None:
    data = with_ancillary_chunks(ORDINARY_PNGS[name]())
    assert np.array_equal(load_image(data, **LIMITS).rgb, decoded_from_the_original(data))


def test_every_photo_decodes_as_before() -> None:
    for row in manifest():
        data = photo(row["file"])
        image = load_image(data, **LIMITS)
        if data.startswith(PNG_SIGNATURE):
            assert np.array_equal(image.rgb, decoded_from_the_original(data)), row["file"]


def test_the_png_decoder_is_given_only_header_palette_transparency_image_data_and_end() -> None:
    data = with_ancillary_chunks(ORDINARY_PNGS["palette-transparent"]())
    recorder = RecordingDecoder()
    with mock.patch.object(_image, "_cv2", recorder):
        load_image(data, **LIMITS)
    (given,) = recorder.given
    assert [c[4:8] for c in png_chunk_list(given)] == [b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND"]


def test_compressed_text_chunks_are_never_inflated() -> None:
    bomb = bombs.png_text_bomb()
    recorder = RecordingDecoder()
    with mock.patch.object(_image, "_cv2", recorder):
        image = load_image(bomb, **LIMITS)
    assert b"zTXt" not in recorder.given[0]
    assert np.array_equal(image.rgb, load_image(png(64, 48), **LIMITS).rgb)


@pytest.mark.parametrize(
    "bomb", [bombs.png_rows_then_more, bombs.png_rows_then_another_stream], ids=["same-stream", "next-stream"]
)
def test_png_image_data_past_the_declared_rows_are_refused(bomb: Callable[[], bytes]) -> None:
    refused_before_decoding(bomb(), "more than the header declares|data follow the end")


def test_png_image_data_short_of_the_declared_rows_are_refused() -> None:
    refused_before_decoding(bombs.png_short_rows(), "fewer rows than the header declares")


def test_png_image_data_that_do_not_end_after_the_declared_rows_are_refused() -> None:
    refused_before_decoding(bombs.png_rows_unended(), "do not end after the declared rows")


def test_png_image_data_split_by_other_chunks_are_refused() -> None:
    refused_before_decoding(bombs.png_split_image_data(), "split by other chunks")


def test_png_image_data_are_inflated_no_further_than_one_byte_past_the_declared_rows() -> None:
    inflated: list[int] = []
    decompressobj = zlib.decompressobj

    class CountingInflater:
        def __init__(self) -> None:
            self._inflater = decompressobj()

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inflater, name)

        def decompress(self, data: bytes, max_length: int = 0) -> bytes:
            out = self._inflater.decompress(data, max_length)
            inflated.append(len(out))
            return out

    with mock.patch.object(_image.zlib, "decompressobj", CountingInflater), pytest.raises(ImageError):
        load_image(bombs.png_rows_then_more(1, 1), **LIMITS)
    assert sum(inflated) == 1 * (1 + 3) + 1


def test_lossless_webp_naming_thousands_of_prefix_code_groups_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.webp_lossless_group_bomb(64), "lossless WebP is not accepted")


def test_any_lossless_webp_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.webp_lossless(), "lossless WebP is not accepted")


def test_webp_with_losslessly_compressed_alpha_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.webp_lossless_alpha(), "losslessly compressed alpha")


def test_webp_with_raw_alpha_is_decoded() -> None:
    chunks = webp_chunk_list(bombs.webp_lossless_alpha(64, 48))
    alpha = np.full((48, 64), 0x80, np.uint8)
    raw = [(kind, b"\x00" + alpha.tobytes() if kind == b"ALPH" else body) for kind, body in chunks]
    image = load_image(riff(webp_chunk(kind, body) for kind, body in raw), **LIMITS)
    assert image.rgb.shape == (48, 64, 3)
    assert image.rgb.min() >= 0x7F  # half-transparent over white


@pytest.mark.parametrize(
    "bomb", [bombs.jpeg_fill_before_marker, bombs.jpeg_fill_in_scan], ids=["between", "in-scan"]
)
def test_a_jpeg_with_a_long_run_of_fill_bytes_is_refused_before_decoding(
    bomb: Callable[[int], bytes],
) -> None:
    refused_before_decoding(bomb(_image._JPEG_MAX_FILL + 1), "fill bytes")


@pytest.mark.parametrize(
    "bomb", [bombs.jpeg_fill_before_marker, bombs.jpeg_fill_in_scan], ids=["between", "in-scan"]
)
def test_a_jpeg_with_fill_bytes_up_to_the_limit_is_decoded(bomb: Callable[[int], bytes]) -> None:
    assert load_image(bomb(_image._JPEG_MAX_FILL), **LIMITS).rgb.shape == (48, 64, 3)


def test_a_jpeg_with_more_restart_markers_than_mcus_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.jpeg_restart_flood(), "restart markers")


def test_a_jpeg_scan_may_hold_one_restart_marker_per_mcu() -> None:
    data = bombs.jpeg(16, 16)  # 4:2:0: one MCU
    _, end = jpeg_scans(data)[-1]
    assert probe(data[:end] + b"\xff\xd0" + data[end:]).width == 16
    with pytest.raises(ImageError, match="a scan of 1 MCUs holds 2 restart markers"):
        probe(data[:end] + b"\xff\xd0\xff\xd1" + data[end:])


def test_a_jpeg_with_a_restart_marker_after_every_mcu_is_decoded() -> None:
    assert load_image(bombs.jpeg_with_restarts(256, 256, 1), **LIMITS).rgb.shape == (256, 256, 3)


def test_a_progressive_scan_of_one_component_may_hold_one_restart_marker_per_block() -> None:
    data = bombs.jpeg(256, 256, cv2.IMWRITE_JPEG_PROGRESSIVE, 1, cv2.IMWRITE_JPEG_RST_INTERVAL, 1)
    assert load_image(data, **LIMITS).rgb.shape == (256, 256, 3)


def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.jpeg_many_scans(), "scans")


def test_a_jpeg_with_more_marker_segments_than_the_limit_is_refused_before_decoding() -> None:
    refused_before_decoding(bombs.jpeg_many_segments(_image._JPEG_MAX_SEGMENTS), "marker segments")
