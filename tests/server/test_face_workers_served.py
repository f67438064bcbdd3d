"""The sidecar reads photos in its supervised face workers: a worker that dies is replaced and no
other call fails, health says NOT_SERVING for the face service while no worker can start, and the
metrics show the workers alive, replaced, and photos refused for each limit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sidecars import REPO, Serve

from polling import wait_for
from verifykit import ImageTooCostly, Reason
from verifykit.face import _workers

FACE = "verifykit.v1.FaceService"
PHOTO = (REPO / "src" / "verifykit" / "_data" / "photos" / "eileen_collins.jpg").read_bytes()


def pool_of(sidecar: Any) -> _workers.FaceWorkers:
    pools = [p for p in _workers._shared.values() if not p._closed]
    (pool,) = [p for p in pools if p.limits.cpu_seconds == sidecar.config.face_worker_cpu_seconds]
    return pool


def test_face_work_is_done_in_worker_processes_by_default(serve: Serve) -> None:
    running = serve(face_worker_cpu_seconds=11)
    assert running.client.face.enroll("applicant-1", PHOTO).approved
    pids = wait_for(lambda: pool_of(running.sidecar).pids(), "a worker")
    assert os.getpid() not in pids


def test_a_worker_killed_from_outside_breaks_nothing(serve: Serve) -> None:
    running = serve(face_worker_cpu_seconds=12, heavy_workers=1)
    pool = pool_of(running.sidecar)
    first = wait_for(lambda: pool.pids(), "a worker")[0]
    os.kill(first, signal.SIGKILL)
    for _ in range(3):
        assert running.client.face.enroll("applicant-1", PHOTO).approved
    assert running.client.health(FACE) == "SERVING"
    assert pool.status().replaced >= 1


def test_a_photo_that_breaks_the_cpu_bound_is_refused_and_the_next_one_read(serve: Serve) -> None:
    from verifykit.face import FaceSettings

    running = serve(face_worker_cpu_seconds=1, heavy_workers=1)
    # The sidecar's own settings read this photo within a second; one hundred jitters would not.
    settings = FaceSettings(processes=1, worker_cpu_seconds=1, num_jitters=100)
    pool = pool_of(running.sidecar)
    with pytest.raises(ImageTooCostly):
        pool.submit(_workers.read_face, PHOTO, settings, settings.multiple_faces).result()
    enrollment = running.client.face.enroll("applicant-1", PHOTO)
    assert enrollment.approved and enrollment.reason is Reason.APPROVED


def test_health_is_not_serving_while_no_face_worker_can_start(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nexit 3\n")
    script.chmod(0o755)
    real = sys.executable
    monkeypatch.setattr(_workers.sys, "executable", str(script))
    running = serve(face_worker_cpu_seconds=13, heavy_workers=1)
    wait_for(lambda: running.client.health(FACE) == "NOT_SERVING", "NOT_SERVING")
    assert running.client.health() == "SERVING"  # every other service still answers
    # The worker's setup is mended (a model file put back, say): the face service comes back.
    script.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    wait_for(lambda: running.client.health(FACE) == "SERVING", "SERVING again")
    assert running.client.face.enroll("applicant-1", PHOTO).approved


def test_the_metrics_show_the_face_workers(serve: Serve) -> None:
    running = serve(face_worker_cpu_seconds=14, heavy_workers=1, metrics_port=0)
    pool = pool_of(running.sidecar)
    first = wait_for(lambda: pool.pids(), "a worker")[0]
    os.kill(first, signal.SIGKILL)
    assert running.client.face.enroll("applicant-1", PHOTO).approved
    url = f"http://127.0.0.1:{running.sidecar.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    assert "verifykit_face_workers_alive 1.0" in text
    assert "verifykit_face_workers_replaced_total 1.0" in text
    assert 'verifykit_face_photos_refused_total{limit="memory"} 0.0' in text


@pytest.mark.skipif(sys.platform != "linux", reason="PR_SET_DUMPABLE is Linux's")
def test_a_serving_process_keeps_its_memory_and_environment_from_its_workers() -> None:
    """Its face workers run as the same user: a non-dumpable server's /proc/PID/environ and mem
    are root's only, and it leaves no core file."""
    script = (
        "import ctypes\n"
        "from verifykit.server._run import keep_private\n"
        "libc = ctypes.CDLL(None)\n"
        "before = libc.prctl(3, 0, 0, 0, 0)\n"  # PR_GET_DUMPABLE
        "assert keep_private()\n"
        "print(before, libc.prctl(3, 0, 0, 0, 0))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["1", "0"], out.stderr[-1000:]


def test_without_the_face_extra_the_sidecar_serves_everything_else(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from verifykit.face import _models

    real = _models.importlib.util.find_spec
    monkeypatch.setattr(
        _models.importlib.util, "find_spec", lambda name, *a: None if name == "cv2" else real(name, *a)
    )
    with caplog.at_level("WARNING", logger="verifykit.server"):
        running = serve(face_worker_cpu_seconds=15)
    assert FACE not in running.sidecar.services
    assert running.client.health() == "SERVING"
    assert "face verification is off: OpenCV is not installed" in caplog.text
