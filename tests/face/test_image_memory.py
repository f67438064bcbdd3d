"""Memory: no accepted image makes one face call use more than 512 MiB above the process's idle size.

Each case is the costliest file of its kind the default limits admit (the largest pixel count,
or the largest decoded size) and runs in a fresh process: a fork of one in which the models were
loaded and a first photo encoded. There the resident size is read as the idle size, the peak is
reset, and one ``FaceVerifier.encode`` runs on the case. The peak resident size above idle is what the call
cost. The files themselves are small: a 25 MP 16-bit RGBA PNG is a few hundred KB.

The face work runs in the calling thread (``workers="thread"``), so what is measured is the
decoding layer's own bound; the sandboxed workers' operating-system limits are a second layer
on top (tests/face/test_face_workers.py). Decoder bombs (tests/face/bombs.py), files whose
hidden work no header shows, are each held to a much smaller bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import bombs
import cv2
import numpy as np
import pytest
from face_photos import DATA
from image_files import png, png_chunk, tiff_orientation

from verifykit.face import FaceSettings, probe

pytestmark = pytest.mark.slow

MiB = 1 << 20
BUDGET = 512 * MiB
DEFAULTS = FaceSettings()
WARM_UP = DATA / "Barack_Obama__obama.jpg"

# One interpreter loads the models and encodes a first photo once; each case then runs in a fork
# of it, so every case starts from the same warm, idle process without paying for the start-up.
SERVER = textwrap.dedent(
    """
    import json, os, resource, sys
    from pathlib import Path

    import numpy as np

    from verifykit import ImageError, Keyring
    from verifykit.face import FaceSettings, FaceVerifier
    from verifykit.store import MemoryStore

    def status(key):
        with open("/proc/self/status") as f:
            line = next(line for line in f if line.startswith(key + ":"))
        return int(line.split()[1]) * 1024

    def verifier(overrides):
        overrides.setdefault("workers", "thread")  # decode here, where the resident size is read
        settings = FaceSettings(**overrides)
        return FaceVerifier(store=MemoryStore(), keyring=Keyring.generate(), settings=settings, audit=None)

    def measure(source, overrides):
        faces = verifier(overrides)
        if source.startswith("array:"):
            _, dtype, channels, height, width = source.split(":")
            image = np.full((int(height), int(width), int(channels)), 0x80, dtype)
        else:
            image = Path(source).read_bytes()
        idle = status("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # the peak so far becomes the current size
            peak_key = "VmHWM"
        except OSError:
            peak_key = None  # the lifetime peak: an overestimate, never an underestimate
        try:
            reading, encoding = faces.encode(image)
            outcome = {"scale": reading.scale, "encoded": encoding is not None}
        except ImageError as exc:
            outcome = {"refused": str(exc)}
        peak = status(peak_key) if peak_key else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        return {"above_idle": peak - idle, **outcome}

    verifier({}).encode(Path(sys.argv[1]).read_bytes())  # loads the models, warms OpenCV and dlib
    print("ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            answer = json.dumps(measure(request["source"], request["overrides"]))
            os.write(write_end, answer.encode())
            os._exit(0)
        os.close(write_end)
        with os.fdopen(read_end, "rb") as answer:
            body = answer.read()
        _, code = os.waitpid(pid, 0)
        print(body.decode() if code == 0 else json.dumps({"failed": code}), flush=True)
    """
)


class FaceCalls:
    """One face call per case, each in a fresh fork of a warm interpreter (:data:`SERVER`)."""

    def __init__(self) -> None:
        self._server = subprocess.Popen(
            [sys.executable, "-c", SERVER, str(WARM_UP)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._read() == "ready"

    def _read(self) -> str:
        assert self._server.stdout is not None
        line = self._server.stdout.readline()
        assert line, f"the measuring interpreter ended ({self._server.poll()})"
        return line.strip()

    def run(self, source: str, **overrides: Any) -> dict[str, Any]:
        assert self._server.stdin is not None
        self._server.stdin.write(json.dumps({"source": source, "overrides": overrides}) + "\n")
        self._server.stdin.flush()
        result: dict[str, Any] = json.loads(self._read())
        assert "failed" not in result, result
        return result

    def close(self) -> None:
        assert self._server.stdin is not None
        self._server.stdin.close()
        self._server.wait(timeout=60)


@pytest.fixture(scope="module")
def face_calls() -> Iterator[FaceCalls]:
    calls = FaceCalls()
    yield calls
    calls.close()


def largest(per_pixel: float) -> tuple[int, int]:
    """(width, height), about 4:3, of the largest image the default limits admit at this many
    decoded bytes a pixel (within 1%, leaving room for per-row buffers)."""
    pixels = int(min(DEFAULTS.max_pixels, DEFAULTS.max_decoded_bytes / per_pixel) * 0.99)
    width = min(int((pixels * 4 / 3) ** 0.5), 16383)
    return width, pixels // width


def ramp(width: int, height: int, channels: int) -> np.ndarray:
    """Thousands of colours (no palette shortcuts), identical rows (tiny files); alpha below 255."""
    x = np.arange(width)
    row = np.stack([x & 255, (x >> 4) & 255, (x * 3) & 255, np.full_like(x, 0x90)][:channels], axis=-1)
    out = np.empty((height, width, channels), np.uint8)
    out[:] = row.astype(np.uint8)
    return out


def encoded(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return buf.tobytes()


def with_exif(jpeg: bytes, orientation: int) -> bytes:
    app1 = b"Exif\x00\x00" + tiff_orientation(orientation)
    return jpeg[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + jpeg[2:]


def small_face_in_a_large_photo() -> bytes:
    """About 40 MP stored sideways, with one face about 450 px wide: found in the reduced
    decode but too small there to encode, so the photo is decoded again at full size and turned
    upright (the costliest JPEG path at the default settings)."""
    face = cv2.imread(str(WARM_UP))
    face = cv2.resize(face, None, fx=2.5, fy=2.5, interpolation=cv2.INTER_LINEAR)
    face = cv2.rotate(face, cv2.ROTATE_90_COUNTERCLOCKWISE)  # as a camera held sideways stores it
    width, height = largest(3)
    stored = np.full((width, height, 3), 128, np.uint8)
    top, left = (width - face.shape[0]) // 2, (height - face.shape[1]) // 2
    stored[top : top + face.shape[0], left : left + face.shape[1]] = face
    return with_exif(encoded(".jpg", stored, cv2.IMWRITE_JPEG_QUALITY, 85), 6)


def png_case(per_pixel: int, depth: int, colour: int, **options: Any) -> Callable[[], bytes]:
    return lambda: png(*largest(per_pixel), depth, colour, **options)


TRANSPARENT_PALETTE = [png_chunk(b"tRNS", b"\x00\x80")]

CASES: dict[str, tuple[Callable[[], bytes], dict[str, Any]]] = {  # case: (file, settings)
    "png-16bit-rgba": (png_case(8, 16, 6), {}),
    "png-16bit-grey-alpha": (png_case(8, 16, 4), {}),
    "png-8bit-rgba": (png_case(4, 8, 6), {}),
    "png-palette-transparent": (png_case(4, 8, 3, before_data=TRANSPARENT_PALETTE), {}),
    "png-16bit-rgb-interlaced-sideways": (png_case(3, 16, 2, interlace=1, orientation=6), {}),
    "png-1bit-grey": (png_case(3, 1, 0), {}),
    "jpeg-small-face-decoded-twice": (small_face_in_a_large_photo, {}),
    "jpeg-full-size-sideways": (
        lambda: with_exif(encoded(".jpg", ramp(*largest(3), 3)), 6),
        {"work_min_side": 0},
    ),
    "jpeg-progressive-444": (
        lambda: encoded(
            ".jpg",
            ramp(*largest(9), 3),
            cv2.IMWRITE_JPEG_PROGRESSIVE,
            1,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR,
            cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
        ),
        {"work_min_side": 0},
    ),
    # Lossless WebP (and lossy WebP with losslessly coded alpha) is refused; raw alpha costs a
    # byte a pixel of file, so the byte limit keeps it far below the others.
    "webp-lossy": (lambda: encoded(".webp", ramp(*largest(3), 3), cv2.IMWRITE_WEBP_QUALITY, 90), {}),
}


@cache
def case_file(case: str) -> tuple[bytes, dict[str, Any]]:
    """The case's file, made once for every test that reads it."""
    make, overrides = CASES[case]
    return make(), overrides


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident sizes from /proc")
@pytest.mark.parametrize("case", list(CASES))
def test_one_face_call_stays_within_512_mib_above_idle(
    case: str, tmp_path: Path, face_calls: FaceCalls
) -> None:
    data, overrides = case_file(case)
    info = probe(data)
    # the costliest the defaults admit: at one of the two limits, and accepted
    assert info.pixels <= DEFAULTS.max_pixels and info.decoded_bytes <= DEFAULTS.max_decoded_bytes
    assert max(info.pixels / DEFAULTS.max_pixels, info.decoded_bytes / DEFAULTS.max_decoded_bytes) > 0.95
    assert len(data) <= DEFAULTS.max_bytes
    path = tmp_path / "image"
    path.write_bytes(data)
    result = face_calls.run(str(path), **overrides)
    assert "refused" not in result, result
    if case == "jpeg-small-face-decoded-twice":
        assert result["encoded"] and result["scale"] == 1.0, result  # the full-size path was taken
    assert result["above_idle"] < BUDGET, f"{result['above_idle'] / MiB:.0f} MiB above idle"


@pytest.mark.parametrize("case", list(CASES))
def test_a_face_worker_reads_the_costliest_file_under_its_default_memory_bound(case: str) -> None:
    """The operating system's bound on a worker (``worker_memory``) admits every file the header
    limits admit: it stops only what the headers cannot show."""
    from verifykit.face._work import read_face
    from verifykit.face._workers import shared_workers

    data, overrides = case_file(case)
    settings = FaceSettings(processes=1, **overrides)
    pool = shared_workers(settings)
    assert pool is not None
    reading = pool.submit(read_face, data, settings, settings.multiple_faces).result()
    assert reading.reason is not None or reading.encoding is not None


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident sizes from /proc")
@pytest.mark.parametrize(("dtype", "channels"), [("uint16", 4), ("uint16", 2), ("uint8", 4)])
def test_a_face_call_on_an_array_at_the_pixel_limit_stays_within_512_mib_above_idle(
    dtype: str, channels: int, face_calls: FaceCalls
) -> None:
    width, height = largest(0.001)  # arrays: only the pixel limit applies
    result = face_calls.run(f"array:{dtype}:{channels}:{height}:{width}")
    assert "refused" not in result, result
    assert result["above_idle"] < BUDGET, f"{result['above_idle'] / MiB:.0f} MiB above idle"


# A bomb is a few MiB of file that declares a small image: refused, or decoded as the small image
# it is, it may cost what a small photo costs, never what the hidden work would (2.3 GiB of
# compressed text, 365 MiB of prefix-code tables).
BOMB_BUDGET = 64 * MiB


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads resident sizes from /proc")
@pytest.mark.parametrize("bomb", list(bombs.BOMBS))
def test_a_face_call_on_a_decoder_bomb_stays_within_64_mib_above_idle(
    bomb: str, tmp_path: Path, face_calls: FaceCalls
) -> None:
    path = tmp_path / "image"
    path.write_bytes(bombs.BOMBS[bomb]())
    result = face_calls.run(str(path))
    if bomb in bombs.DECODED:
        assert "refused" not in result, result  # decoded without the hidden work
    else:
        assert "refused" in result, result
    assert result["above_idle"] < BOMB_BUDGET, f"{result['above_idle'] / MiB:.0f} MiB above idle"
