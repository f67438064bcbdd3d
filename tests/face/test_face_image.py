"""Decoding: limits before pixels, truncation and corruption refused, orientation honoured."""

from __future__ import annotations

import struct
import zlib
from typing import Any

import cv2
import numpy as np
import pytest
from face_photos import DATA, photo, with_exif_orientation

from verifykit import ImageError
from verifykit.face import _image, probe
from verifykit.face._image import load_image

LIMITS: dict[str, Any] = {"max_bytes": 15 * 1024 * 1024, "max_pixels": 40_000_000}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


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
        load_image(photo("Joe_Biden__biden.jpg"), max_bytes=10**7, max_pixels=100_000)


def test_oversized_bytes_are_refused_before_reading_the_header(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_image, "probe", RefusingDecoder)
    with pytest.raises(ImageError, match="bytes"):
        load_image(b"\xff\xd8\xff" + b"\x00" * 2000, max_bytes=1000, max_pixels=10**6)


def test_an_array_over_the_pixel_limit_is_refused() -> None:
    with pytest.raises(ImageError, match="pixels"):
        load_image(np.zeros((2000, 2000, 3), np.uint8), max_bytes=1, max_pixels=1_000_000)


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
