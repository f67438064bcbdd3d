"""Decoding: limits before pixels, headers read as the decoders read them, truncation and
corruption refused, orientation honoured, memory bounded by what is decoded."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from face_photos import DATA, photo, with_exif_orientation
from image_files import (
    DecodeWatcher,
    jpeg_frame,
    jpeg_frame_resized,
    jpeg_scans,
    jpeg_segment,
    jpeg_with_scans,
    png,
    png_chunk,
    png_chunk_list,
    png_ihdr,
    riff,
    vp8x,
    webp_chunk,
    webp_chunk_list,
)

from verifykit import ConfigurationError, ImageError
from verifykit.face import FaceSettings, _image, probe
from verifykit.face._image import load_image
from verifykit.face._pipeline import decode

DEFAULTS = FaceSettings()
LIMITS: dict[str, Any] = {
    "max_bytes": DEFAULTS.max_bytes,
    "max_pixels": DEFAULTS.max_pixels,
    "max_decoded_bytes": DEFAULTS.max_decoded_bytes,
    "max_jpeg_scans": DEFAULTS.max_jpeg_scans,
}


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb's shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header rewritten to claim another size."""
    i = jpeg.index(b"\xff\xc0")
    return jpeg[: i + 5] + struct.pack(">HH", height, width) + jpeg[i + 9 :]


def asymmetric_jpeg(height: int = 60, width: int = 90) -> tuple[bytes, np.ndarray]:
    """A JPEG with a distinct quadrant pattern, so every rotation and mirror looks different."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[: height // 2, : width // 3] = (255, 0, 0)
    rgb[height // 2 :, width // 2 :] = (0, 0, 255)
    rgb[:, -5:] = (0, 255, 0)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 98])
    assert ok
    return buf.tobytes(), rgb


class RefusingDecoder:
    """Stands in for OpenCV to prove a check happened before any decoding."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"cv2.{name} was used before the limits were checked")


def test_header_gives_size_and_format_without_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    info = probe(photo("Barack_Obama__obama.jpg"))
    assert (info.format, info.width, info.height) == ("jpeg", 640, 800)
    assert probe(photo("noface__coffee.png")).format == "png"


def test_png_header_size_matches_the_decoded_size() -> None:
    data = photo("noface__coffee.png")
    info = probe(data)
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    assert (info.width, info.height) == (decoded.shape[1], decoded.shape[0])


def test_webp_is_accepted_and_sized_from_its_header() -> None:
    ok, buf = cv2.imencode(".webp", np.full((40, 70, 3), 128, np.uint8), [cv2.IMWRITE_WEBP_QUALITY, 90])
    assert ok
    image = load_image(buf.tobytes(), **LIMITS)
    assert image.rgb.shape == (40, 70, 3)
    assert probe(buf.tobytes()).format == "webp"


def test_png_decompression_bomb_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = png_declaring(50_000, 50_000)
    assert len(bomb) < 200
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="pixels"):
        load_image(bomb, **LIMITS)


def test_jpeg_declaring_too_many_pixels_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    bomb = jpeg_with_size(photo("Joe_Biden__biden.jpg"), 9000, 9000)
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="limit is 40,000,000"):
        load_image(bomb, **LIMITS)


def test_the_pixel_limit_is_configurable() -> None:
    with pytest.raises(ImageError, match="pixels"):
        load_image(
            photo("Joe_Biden__biden.jpg"), max_bytes=10**7, max_pixels=100_000, max_decoded_bytes=10**9
        )


def test_oversized_bytes_are_refused_before_reading_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_image, "_probe", RefusingDecoder)
    with pytest.raises(ImageError, match="bytes"):
        load_image(
            b"\xff\xd8\xff" + b"\x00" * 2000, max_bytes=1000, max_pixels=10**6, max_decoded_bytes=10**9
        )


def test_an_array_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(ImageError, match="pixels"):
        load_image(
            np.zeros((2000, 2000, 3), np.uint8), max_bytes=1, max_pixels=1_000_000, max_decoded_bytes=1
        )


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_a_truncated_jpeg_is_refused(fraction: float) -> None:
    data = photo("Joe_Biden__biden.jpg")
    with pytest.raises(ImageError, match=r"truncated|corrupt"):
        load_image(data[: int(len(data) * fraction)], **LIMITS)


@pytest.mark.parametrize("name", ["noface__coffee.png", "Barack_Obama__obama2_32bit_rgba.png"])
def test_a_truncated_png_is_refused(name: str) -> None:
    data = photo(name)
    with pytest.raises(ImageError, match=r"truncated|corrupt"):
        load_image(data[: len(data) // 2], **LIMITS)


def test_a_truncated_webp_is_refused() -> None:
    ok, buf = cv2.imencode(".webp", np.full((40, 70, 3), 128, np.uint8))
    assert ok
    with pytest.raises(ImageError, match="truncated"):
        load_image(buf.tobytes()[:-10], **LIMITS)


def test_a_png_with_corrupt_pixel_data_is_refused() -> None:
    good = photo("noface__coffee.png")
    start = good.index(b"IDAT") + 100
    corrupt = good[:start] + bytes(b ^ 0x5A for b in good[start : start + 500]) + good[start + 500 :]
    with pytest.raises(ImageError, match="corrupt"):
        load_image(corrupt, **LIMITS)


@pytest.mark.parametrize(
    "data",
    [b"", b"hello world, not a picture", b"GIF89a" + b"\x00" * 100, b"BM" + b"\x00" * 100, b"\xff\xd8\xff"],
    ids=["empty", "text", "gif", "bmp", "bare-jpeg-signature"],
)
def test_anything_but_jpeg_png_or_webp_is_refused(data: bytes) -> None:
    with pytest.raises(ImageError):
        load_image(data, **LIMITS)


def test_an_image_must_be_bytes_or_an_array() -> None:
    with pytest.raises(ImageError):
        load_image("Barack_Obama__obama.jpg", **LIMITS)  # type: ignore[arg-type]


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_is_applied_as_opencv_applies_it(orientation: int) -> None:
    jpeg, _ = asymmetric_jpeg()
    tagged = with_exif_orientation(jpeg, orientation)
    assert probe(tagged).orientation == orientation
    ours = load_image(tagged, **LIMITS).rgb
    oracle = cv2.cvtColor(cv2.imdecode(np.frombuffer(tagged, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    assert np.array_equal(ours, oracle)


def test_a_photo_stored_sideways_is_turned_upright() -> None:
    _, upright = asymmetric_jpeg()
    stored = cv2.rotate(cv2.cvtColor(upright, cv2.COLOR_RGB2BGR), cv2.ROTATE_90_COUNTERCLOCKWISE)
    ok, buf = cv2.imencode(".jpg", stored, [cv2.IMWRITE_JPEG_QUALITY, 98])
    assert ok
    image = load_image(with_exif_orientation(buf.tobytes(), 6), **LIMITS)
    assert image.rgb.shape == upright.shape
    assert np.abs(image.rgb.astype(int) - upright.astype(int)).mean() < 4
    assert image.original_size == (upright.shape[1], upright.shape[0])


def test_a_malformed_exif_block_only_loses_the_rotation() -> None:
    jpeg, _ = asymmetric_jpeg()
    bad = jpeg[:2] + b"\xff\xe1\x00\x0cExif\x00\x00MM\x00\x2a" + jpeg[2:]  # TIFF cut short
    assert probe(bad).orientation == 1
    assert load_image(bad, **LIMITS).rgb.shape == (60, 90, 3)


def test_rgba_is_composited_over_white() -> None:
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200  # red where opaque
    rgba[:5, :, 3] = 255
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    assert ok
    rgb = load_image(buf.tobytes(), **LIMITS).rgb
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert rgb[9, 9].tolist() == [255, 255, 255]


def test_greyscale_becomes_three_equal_channels() -> None:
    rgb = load_image(photo("skimage_cameraman__camera.png"), **LIMITS).rgb
    assert rgb.shape == (512, 512, 3)
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_sixteen_bit_png_is_reduced_to_eight_bits() -> None:
    deep = np.full((8, 8), 0xABCD, np.uint16)
    ok, buf = cv2.imencode(".png", deep)
    assert ok
    assert load_image(buf.tobytes(), **LIMITS).rgb[0, 0].tolist() == [0xAB] * 3


@pytest.mark.parametrize(
    "array",
    [np.zeros((10, 10, 3), np.float32), np.zeros((10,), np.uint8), np.zeros((0, 5, 3), np.uint8)],
    ids=["float", "1-d", "empty"],
)
def test_unusable_arrays_are_refused(array: np.ndarray) -> None:
    with pytest.raises(ImageError):
        load_image(array, **LIMITS)


def test_a_large_jpeg_is_decoded_reduced_and_can_be_decoded_again_in_full() -> None:
    big = cv2.resize(cv2.imread(str(DATA / "Joe_Biden__biden.jpg")), None, fx=5, fy=5)
    ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    reduced = load_image(buf.tobytes(), **LIMITS, work_min_side=960)
    assert reduced.scale == 0.25
    assert reduced.rgb.shape[:2] == (1000, 440)
    assert reduced.original_size == (1760, 4000)
    assert reduced.full().rgb.shape[:2] == (4000, 1760)


# -- headers read the way the decoders read them -------------------------------------------------


def encoded(ext: str, array: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, array, list(params))
    assert ok
    return buf.tobytes()


def gradient(height: int, width: int, channels: int = 3) -> np.ndarray:
    """Many colours (no palette shortcut in the encoders), yet small once compressed."""
    y, x = np.mgrid[:height, :width]
    layers = [(x * 7) & 255, (y * 5) & 255, (x + y) & 255, np.full_like(x, 160)][:channels]
    return np.dstack(layers).astype(np.uint8)


def lossless_webp(width: int, height: int) -> bytes:
    return encoded(".webp", gradient(height, width), cv2.IMWRITE_WEBP_QUALITY, 101)


def lossy_webp(width: int, height: int) -> bytes:
    return encoded(".webp", gradient(height, width), cv2.IMWRITE_WEBP_QUALITY, 90)


def test_webp_vp8x_after_the_image_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    # The reported bomb, scaled down: a lossless image past the pixel limit, then a VP8X chunk
    # claiming 1 x 1. libwebp honours VP8X only as the first chunk and decodes the image.
    image = webp_chunk_list(lossless_webp(1500, 1000))
    bomb = riff([webp_chunk(*image[0]), vp8x(1, 1)])
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="corrupt WebP"):
        load_image(bomb, **{**LIMITS, "max_pixels": 1_000_000})


def test_webp_canvas_must_agree_with_its_bitstream(monkeypatch: pytest.MonkeyPatch) -> None:
    # OpenCV allocates the VP8X canvas; libwebp decodes the bitstream's own size.
    image = webp_chunk_list(lossless_webp(300, 200))
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="canvas size differs"):
        load_image(riff([vp8x(30, 20), webp_chunk(*image[0])]), **LIMITS)


def test_webp_with_a_vp8x_canvas_matching_its_bitstream_is_decoded() -> None:
    image = webp_chunk_list(lossy_webp(70, 40))
    assert load_image(riff([vp8x(70, 40), webp_chunk(*image[0])]), **LIMITS).rgb.shape == (40, 70, 3)


@pytest.mark.parametrize(
    "layout",
    [
        pytest.param(lambda img: [webp_chunk(b"ICCP", b"xx"), img], id="unknown-first"),
        pytest.param(lambda img: [img, img], id="two-images"),
        pytest.param(lambda img: [vp8x(300, 200), vp8x(300, 200), img], id="two-vp8x"),
        pytest.param(lambda img: [img, webp_chunk(b"ALPH", b"\x00" * 8)], id="alpha-without-vp8x"),
    ],
)
def test_webp_layouts_a_decoder_could_read_differently_are_refused(
    layout: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    image = webp_chunk(*webp_chunk_list(lossless_webp(300, 200))[0])
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="corrupt WebP"):
        load_image(riff(layout(image)), **LIMITS)


def test_animated_webp_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    image = webp_chunk(*webp_chunk_list(lossless_webp(30, 20))[0])
    frame = struct.pack("<3s3s3s3sB", b"\0" * 3, b"\0" * 3, (29).to_bytes(3, "little"), b"\0" * 3, 0)
    animated = riff(
        [
            vp8x(30, 20, flags=0x02),
            webp_chunk(b"ANIM", b"\0" * 6),
            webp_chunk(b"ANMF", frame + b"\0\0" + image),
        ]
    )
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="animated"):
        load_image(animated, **LIMITS)


def test_png_with_a_second_header_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = png_chunk_list(png(20, 10))
    twice = b"\x89PNG\r\n\x1a\n" + chunks[0] + png_ihdr(20_000, 20_000) + b"".join(chunks[1:])
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="more than one header"):
        load_image(twice, **LIMITS)


def test_png_whose_first_chunk_is_not_the_header_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    chunks = png_chunk_list(png(20, 10))
    late = b"\x89PNG\r\n\x1a\n" + png_chunk(b"tEXt", b"a\0b") + b"".join(chunks)
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="first chunk must be the header"):
        load_image(late, **LIMITS)


def test_png_header_checksum_is_checked_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytearray(png(20, 10))
    data[29] ^= 0xFF  # the IHDR CRC
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="header checksum"):
        load_image(bytes(data), **LIMITS)


def test_animated_png_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    actl = png_chunk(b"acTL", struct.pack(">II", 2, 0))
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="animated"):
        load_image(png(20, 10, before_data=[actl]), **LIMITS)


def test_a_png_chunk_running_past_the_file_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # OpenCV's own chunk walk reserves a chunk's declared length before reading it.
    huge = struct.pack(">I", 0x7FFFFF00) + b"tEXt" + b"\0" * 16
    chunks = png_chunk_list(png(20, 10))
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="truncated"):
        load_image(b"\x89PNG\r\n\x1a\n" + chunks[0] + huge, **LIMITS)


def test_jpeg_with_a_second_frame_header_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    jpeg = photo("Joe_Biden__biden.jpg")
    _, end = jpeg_frame(jpeg)
    # libjpeg sizes everything from the first frame header; a reader taking the last would see 1 x 1.
    twice = jpeg[:end] + jpeg_frame_resized(jpeg, 1, 1) + jpeg[end:]
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="more than one frame header"):
        load_image(twice, **LIMITS)


def test_jpeg_frame_header_after_the_first_scan_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    jpeg = encoded(".jpg", gradient(64, 96), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    second_scan = jpeg.index(b"\xff\xda", jpeg.index(b"\xff\xda") + 2)
    late = jpeg[:second_scan] + jpeg_frame_resized(jpeg, 9000, 9000) + jpeg[second_scan:]
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="more than one frame header"):
        load_image(late, **LIMITS)


@pytest.mark.parametrize(
    ("marker", "precision"),
    [(0xC3, 8), (0xC5, 8), (0xCB, 8), (0xC1, 12)],
    ids=["lossless", "hierarchical", "lossless-arithmetic", "12-bit"],
)
def test_jpeg_codings_outside_8_bit_dct_are_refused_before_decoding(
    marker: int, precision: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    jpeg = photo("Joe_Biden__biden.jpg")
    start, end = jpeg_frame(jpeg)
    frame = bytearray(jpeg_frame_resized(jpeg, 300, 200, marker))
    frame[4] = precision
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="unsupported JPEG"):
        load_image(jpeg[:start] + bytes(frame) + jpeg[end:], **LIMITS)


def test_jpeg_scan_before_its_frame_header_is_refused() -> None:
    jpeg = photo("Joe_Biden__biden.jpg")
    start, end = jpeg_frame(jpeg)
    sos = jpeg.index(b"\xff\xda")
    moved = jpeg[:start] + jpeg[end:sos] + jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + jpeg[start:]
    with pytest.raises(ImageError, match="before the frame header"):
        probe(moved)


# -- scans: each one a pass over the whole coefficient buffer -------------------------------------


def progressive_jpeg() -> bytes:
    return encoded(".jpg", gradient(120, 160), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)


def scan_watcher(max_jpeg_scans: int) -> DecodeWatcher:
    return DecodeWatcher(LIMITS["max_pixels"], LIMITS["max_decoded_bytes"], max_jpeg_scans=max_jpeg_scans)


def test_jpeg_scans_are_counted_from_the_header() -> None:
    progressive = progressive_jpeg()
    assert probe(progressive).scans == len(jpeg_scans(progressive)) > 1
    assert probe(encoded(".jpg", gradient(120, 160))).scans == 1


def test_a_jpeg_with_more_scans_than_the_limit_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = DEFAULTS.max_jpeg_scans
    bomb = jpeg_with_scans(progressive_jpeg(), limit + 1)
    watcher = scan_watcher(limit)  # fails the test if OpenCV ever decodes a file past the limit
    monkeypatch.setattr(_image, "_cv2", watcher)
    with pytest.raises(ImageError, match=f"more than {limit} scans"):
        load_image(bomb, **LIMITS)
    assert watcher.decoded == []


def test_a_jpeg_with_as_many_scans_as_the_limit_is_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    limit = DEFAULTS.max_jpeg_scans
    watcher = scan_watcher(limit)
    monkeypatch.setattr(_image, "_cv2", watcher)
    image = load_image(jpeg_with_scans(progressive_jpeg(), limit), **LIMITS)
    assert image.rgb.shape == (120, 160, 3)
    assert len(watcher.decoded) == 1


def test_scans_past_the_limit_are_refused_without_walking_the_rest_of_the_file() -> None:
    bomb = jpeg_with_scans(progressive_jpeg(), 40)
    cut = bomb[: jpeg_scans(bomb)[30][0]]  # the end of the file, where the walk would fail, is gone
    with pytest.raises(ImageError, match="more than 20 scans"):
        probe(cut, max_jpeg_scans=20)


def test_face_settings_pass_the_scan_limit_to_decoding() -> None:
    jpeg = jpeg_with_scans(progressive_jpeg(), 12)
    with pytest.raises(ImageError, match="more than 11 scans; the limit is 11"):
        decode(jpeg, FaceSettings(max_jpeg_scans=11))
    assert decode(jpeg, FaceSettings(max_jpeg_scans=12)).rgb.shape == (120, 160, 3)


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "100"], ids=repr)
def test_the_scan_limit_must_be_a_positive_integer(value: Any) -> None:
    with pytest.raises(ConfigurationError, match="max_jpeg_scans"):
        FaceSettings(max_jpeg_scans=value)


# -- decoded bytes: pixels x channels x bytes per sample, plus the decoder's buffers --------------


@pytest.mark.parametrize(
    ("colour", "depth", "transparency", "per_pixel"),
    [
        (0, 8, None, 3),
        (0, 16, None, 3),
        (0, 8, b"\x00\x01", 3),  # grey with tRNS: OpenCV ignores the transparency
        (2, 8, None, 3),
        (2, 16, None, 3),
        (2, 16, b"\x00\x01\x00\x02\x00\x03", 8),
        (3, 8, None, 3),
        (3, 4, b"\x00\x80", 4),
        (4, 8, None, 4),
        (4, 16, None, 8),
        (6, 8, None, 4),
        (6, 16, None, 8),
    ],
    ids=lambda v: repr(v),
)
def test_png_decoded_bytes_follow_depth_and_colour_type(
    colour: int, depth: int, transparency: bytes | None, per_pixel: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    extra = [png_chunk(b"tRNS", transparency)] if transparency else []
    data = png(37, 23, depth, colour, before_data=extra)
    info = probe(data)
    assert info.decoded_bytes == 37 * 23 * per_pixel
    watcher = DecodeWatcher(**{k: LIMITS[k] for k in ("max_pixels", "max_decoded_bytes")})
    monkeypatch.setattr(_image, "_cv2", watcher)
    load_image(data, **LIMITS)
    assert watcher.decoded == [(watcher.decoded[0][0], info.decoded_bytes)]  # exactly what OpenCV returned


def test_sixteen_bit_rgba_png_over_the_decoded_bytes_limit_is_refused_before_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = png(2500, 2000, 16, 6)  # 5 MP: within the pixel limit, 8 bytes a pixel once decoded
    assert len(data) < 50_000
    monkeypatch.setattr(_image, "_cv2", RefusingDecoder)
    with pytest.raises(ImageError, match="decoding the image takes 40,000,000 bytes"):
        load_image(data, **{**LIMITS, "max_decoded_bytes": 32 * 1024 * 1024})


def test_progressive_jpeg_counts_its_coefficient_buffer() -> None:
    image = gradient(120, 160)
    baseline = probe(
        encoded(".jpg", image, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)
    )
    progressive = probe(
        encoded(
            ".jpg",
            image,
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            1,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        )
    )
    assert baseline.decoded_bytes == 160 * 120 * 3
    # three full-resolution components of 20 x 15 blocks, 64 coefficients of 2 bytes each
    assert progressive.decoded_bytes == 160 * 120 * 3 + 3 * 20 * 15 * 128


def test_subsampled_progressive_jpeg_counts_whole_mcus() -> None:
    info = probe(encoded(".jpg", gradient(100, 150), cv2.IMWRITE_JPEG_PROGRESSIVE, 1))  # 4:2:0
    mcus = 10 * 7  # 16 x 16 MCUs over 150 x 100
    assert info.decoded_bytes == 150 * 100 * 3 + mcus * (4 + 1 + 1) * 128


def test_the_decoded_bytes_limit_holds_at_full_size_even_for_a_reduced_decode() -> None:
    jpeg = encoded(".jpg", gradient(1200, 1600), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    cost = probe(jpeg).decoded_bytes
    with pytest.raises(ImageError, match="decoding the image takes"):
        load_image(jpeg, **{**LIMITS, "max_decoded_bytes": cost - 1}, work_min_side=200)
    assert load_image(jpeg, **{**LIMITS, "max_decoded_bytes": cost}, work_min_side=200).scale == 0.125


def test_face_settings_pass_the_decoded_bytes_limit_to_decoding() -> None:
    settings = FaceSettings(max_decoded_bytes=100_000)
    with pytest.raises(ImageError, match="the limit is 100,000"):
        decode(png(200, 200, 8, 6), settings)


def test_the_decoded_bytes_limit_must_be_positive() -> None:
    with pytest.raises(ConfigurationError, match="max_decoded_bytes"):
        FaceSettings(max_decoded_bytes=0)


# -- 16 bits and alpha to 8-bit RGB, in integers, a strip at a time ------------------------------


def test_alpha_is_composited_over_white_rounded_to_nearest() -> None:
    colour, alpha = np.meshgrid(np.arange(256), np.arange(256))
    ours = _image._over_white(colour[..., None].astype(np.uint8), alpha.astype(np.uint8))[..., 0]
    exact = (colour * alpha + 255 * (255 - alpha)) / 255
    assert np.array_equal(ours, np.floor(exact + 0.5))


def test_sixteen_bit_rgba_png_is_composited_from_its_high_bytes() -> None:
    rgba = np.zeros((6, 4, 4), np.uint16)
    rgba[..., 0] = 0xC8FF  # red, high byte 200
    rgba[:3, :, 3] = 0xFFFF
    rgba[3:, :, 3] = 0x8000  # half transparent: 200 over white at alpha 128
    rgb = load_image(encoded(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA)), **LIMITS).rgb
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert rgb[5, 0].tolist() == [227, 127, 127]


def test_grey_alpha_arrays_are_composited_over_white() -> None:
    grey_alpha = np.zeros((3, 3, 2), np.uint8)
    grey_alpha[..., 0] = 40
    grey_alpha[0, 0, 1] = 255
    rgb = load_image(grey_alpha, **LIMITS).rgb
    assert rgb[0, 0].tolist() == [40, 40, 40]
    assert rgb[1, 1].tolist() == [255, 255, 255]


@pytest.mark.parametrize(
    ("dtype", "channels"),
    [(np.uint8, 2), (np.uint8, 4), (np.uint16, 1), (np.uint16, 2), (np.uint16, 3), (np.uint16, 4)],
)
def test_conversion_a_strip_at_a_time_equals_converting_at_once(
    channels: int, dtype: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(channels)
    shape = (37, 11) if channels == 1 else (37, 11, channels)
    pixels = rng.integers(0, np.iinfo(dtype).max, shape, endpoint=True).astype(dtype)
    whole = _image._to_rgb(pixels, bgr=False)
    monkeypatch.setattr(_image, "_STRIP_PIXELS", 50)  # 4 rows a strip, the last one short
    assert np.array_equal(_image._to_rgb(pixels, bgr=False), whole)


class OpenCVWithoutRGBDecoding:
    """OpenCV as it was before 4.11, which added IMREAD_COLOR_RGB: colour decodes to BGR."""

    def __getattr__(self, name: str) -> Any:
        if name == "IMREAD_COLOR_RGB":
            raise AttributeError(name)
        return getattr(cv2, name)


@pytest.mark.parametrize(
    ("data", "work_min_side"),
    [
        (encoded(".jpg", gradient(400, 300)), 100),
        (encoded(".png", gradient(40, 30)), 0),
        (encoded(".webp", gradient(40, 30), cv2.IMWRITE_WEBP_QUALITY, 90), 0),
        (encoded(".png", gradient(40, 30, 4)), 0),
    ],
    ids=["jpeg-reduced", "png", "webp", "png-alpha"],
)
def test_older_opencv_without_rgb_decoding_gives_the_same_pixels(
    data: bytes, work_min_side: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = load_image(data, **LIMITS, work_min_side=work_min_side).rgb
    monkeypatch.setattr(_image, "_cv2", OpenCVWithoutRGBDecoding)
    assert np.array_equal(load_image(data, **LIMITS, work_min_side=work_min_side).rgb, expected)
