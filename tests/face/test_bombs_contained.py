"""Decoder bombs, and the costliest ordinary files the header limits admit, through the face
workers in a fresh server process: every bomb is refused (or, for compressed text that never
reaches the decoder, read without its hidden work) and every ordinary file read; the server
process grows by at most 64 MiB whatever it was sent (it never decodes); and each bomb's worker
spends less CPU than the per-photo bound."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import bombs
import pytest
from face_photos import DATA as PHOTOS
from test_image_memory import CASES

# The costliest file of each format, and of PNG's depths and colour types, the defaults admit.
COSTLIEST = (
    "png-16bit-rgba",
    "png-palette-transparent",
    "png-1bit-grey",
    "jpeg-progressive-444",
    "webp-lossy",
)

SERVER_GROWTH = 64 * 1024 * 1024
CPU_BOUND = 5  # FaceSettings().worker_cpu_seconds

CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from verifykit import ImageError
    from verifykit.face import FaceSettings
    from verifykit.face._work import face_work
    from verifykit.face._workers import shared_workers

    def peak() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise OSError("no VmHWM")

    settings = FaceSettings(processes=1)
    pool = shared_workers(settings)
    photo = Path(sys.argv[1]).read_bytes()
    def submit(data):  # what a verifier's flow does with a photo
        work = face_work(data, settings, settings.multiple_faces)
        return pool.submit(work.fn, *work.args)

    assert submit(photo).result().usable
    before = peak()
    results = {}
    for path in sys.argv[2:]:
        data = Path(path).read_bytes()
        future = None
        try:
            future = submit(data)
            future.result()
            outcome = "read"
        except ImageError as exc:
            outcome = exc.code
        del data
        results[Path(path).name] = [outcome, getattr(future, "worker_cpu_seconds", 0.0)]
    print(json.dumps({"growth": peak() - before, "results": results}))
    """
)


@pytest.fixture(scope="module")
def contained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("bombs")
    paths = []
    files = {**bombs.BOMBS, **{f"costliest-{case}": CASES[case][0] for case in COSTLIEST}}
    for name, make in files.items():
        path = folder / name
        path.write_bytes(make())
        paths.append(str(path))
    good = PHOTOS / "Barack_Obama__obama.jpg"
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(good), *paths],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_nothing_sent_grows_the_server_process_by_more_than_64_mib(contained: dict[str, object]) -> None:
    assert isinstance(contained["growth"], int)
    assert contained["growth"] <= SERVER_GROWTH, contained


@pytest.mark.parametrize("bomb", list(bombs.BOMBS))
def test_every_bomb_is_refused_by_a_worker_within_its_cpu_bound(
    bomb: str, contained: dict[str, object]
) -> None:
    results = contained["results"]
    assert isinstance(results, dict)
    outcome, cpu = results[bomb]
    assert outcome == ("read" if bomb in bombs.DECODED else "invalid_image"), results[bomb]
    assert cpu is not None and cpu < CPU_BOUND, results[bomb]


@pytest.mark.parametrize("case", COSTLIEST)
def test_the_costliest_ordinary_file_is_read_by_a_worker(case: str, contained: dict[str, object]) -> None:
    results = contained["results"]
    assert isinstance(results, dict)
    assert results[f"costliest-{case}"][0] == "read", results[f"costliest-{case}"]
