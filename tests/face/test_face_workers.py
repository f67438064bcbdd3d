"""Photos are read in sandboxed, supervised worker processes by default.

Each worker loads the models once and reads one photo at a time under limits the operating system
enforces; a photo that breaks one is refused with ``image_too_costly`` and its worker replaced; a
worker that dies for any reason is replaced, and no other call fails. Both flavours use the pool
the same way, through the flows' ``Work`` step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from face_photos import DATA as PHOTOS
from face_photos import photo

from polling import wait_for
from verifykit import ConfigurationError, ImageError, ImageTooCostly, Keyring, Reason, WorkerLost
from verifykit.face import (
    FaceSettings,
    FaceVerifier,
    FaceWorkers,
    MultiFace,
    WorkerLimits,
    Workers,
    _models,
    _seccomp,
)
from verifykit.face._work import read_face, reading_from_wire, reading_to_wire, worker_report
from verifykit.face._workers import shared_workers
from verifykit.store import MemoryStore

OBAMA = "Barack_Obama__obama.jpg"
OBAMA_OTHER = "Barack_Obama__obama2.jpg"
BIDEN = "Joe_Biden__biden.jpg"


def limits(**overrides: Any) -> WorkerLimits:
    base = WorkerLimits.of(FaceSettings())
    values = {f: getattr(base, f) for f in ("memory_bytes", "cpu_seconds", "timeout", "start_timeout")}
    return WorkerLimits(**{**values, **overrides})


@pytest.fixture
def pool_of() -> Iterator[Callable[..., FaceWorkers]]:
    """Private pools (never the shared ones), each ended after its test."""
    made: list[FaceWorkers] = []

    def make(processes: int = 1, command: list[str] | None = None, **limit: Any) -> FaceWorkers:
        pool = FaceWorkers(processes, limits(**limit), command=command)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.shutdown(wait=True, cancel_futures=True)


def read(pool: FaceWorkers, image: bytes, settings: FaceSettings | None = None) -> Future[Any]:
    return pool.submit(read_face, image, settings or FaceSettings(), MultiFace.REJECT)


def costly(processes: int = 1) -> FaceSettings:
    """Settings under which one photo costs far more CPU than a worker's bound of one second:
    100 jitters are 100 passes of the encoder."""
    return FaceSettings(num_jitters=100, worker_cpu_seconds=1, processes=processes)


# -- where the work runs ---------------------------------------------------------------------------


def test_face_work_runs_in_a_worker_process_that_loads_each_model_once(
    make_face: Callable[..., FaceVerifier], obama_template: bytes
) -> None:
    fv = make_face(processes=1)
    here = _models.loads()
    assert fv.verify("obama", obama_template, photo(OBAMA_OTHER)).approved
    assert fv.verify("obama", obama_template, photo(BIDEN)).reason is Reason.MISMATCH
    assert fv.enroll("biden", photo(BIDEN)).approved
    assert fv.compare(photo(OBAMA_OTHER), photo(BIDEN)).reason is Reason.MISMATCH
    report = fv._pool.submit(worker_report).result()  # type: ignore[union-attr]
    assert report["pid"] != os.getpid()
    assert report["loads"] == {"landmarks": 1, "detector": 1, "encoder": 1}
    assert _models.loads() == here  # nothing was loaded, or encoded, in this process


def test_processes_are_the_default_and_threads_start_none() -> None:
    assert FaceSettings().workers is Workers.PROCESS
    assert FaceVerifier(store=MemoryStore(), keyring=Keyring.generate())._pool is not None
    threads = FaceSettings(workers=Workers.THREAD)
    assert FaceVerifier(store=MemoryStore(), keyring=Keyring.generate(), settings=threads)._pool is None


def test_verifiers_with_the_same_worker_settings_share_one_pool() -> None:
    a, b = FaceSettings(processes=1), FaceSettings(processes=1, threshold=0.5)
    assert shared_workers(a) is shared_workers(b)
    assert shared_workers(a) is not shared_workers(FaceSettings(processes=1, worker_cpu_seconds=9))


def test_the_server_process_never_loads_a_decoder(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from verifykit import Keyring
        from verifykit.face import FaceSettings, FaceVerifier
        from verifykit.store import MemoryStore
        fv = FaceVerifier(store=MemoryStore(), keyring=Keyring.generate(),
                          settings=FaceSettings(processes=1), audit=None)
        photo = open({str(PHOTOS / OBAMA)!r}, "rb").read()
        assert fv.enroll("obama", photo).approved
        print(sorted(m for m in ("cv2", "dlib") if m in sys.modules))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    "bad",
    [
        {"workers": "fibres"},
        {"processes": 0},
        {"processes": True},
        {"worker_memory": 0},
        {"worker_cpu_seconds": 0},
        {"worker_cpu_seconds": 1.5},
        {"worker_timeout": 0},
        {"worker_timeout": float("inf")},
        {"worker_start_timeout": -1},
    ],
)
def test_worker_settings_are_checked(bad: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        FaceSettings(**bad)  # type: ignore[arg-type]


def test_worker_bounds_follow_the_decoding_bound_unless_set() -> None:
    assert FaceSettings(max_decoded_bytes=100).worker_memory_bound == 200 + 128 * 1024 * 1024
    assert FaceSettings(worker_memory=1 << 30).worker_memory_bound == 1 << 30
    assert FaceSettings(worker_cpu_seconds=2).worker_timeout_bound == 18.0
    assert FaceSettings(worker_timeout=3).worker_timeout_bound == 3.0


def test_pools_run_only_face_work(pool_of: Callable[..., FaceWorkers]) -> None:
    with pytest.raises(TypeError):
        pool_of().submit(print, "hello")


# -- what a worker runs under ----------------------------------------------------------------------


def test_a_worker_inherits_no_secret_and_no_descriptor(
    pool_of: Callable[..., FaceWorkers], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VERIFYKIT_TOKEN", "s3cret-token")
    monkeypatch.setenv("VERIFYKIT_KEYRING", "k1:c2VjcmV0")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    held = os.open(tmp_path / "audit.log", os.O_CREAT | os.O_WRONLY)
    os.set_inheritable(held, True)
    try:
        report = pool_of().submit(worker_report).result()
    finally:
        os.close(held)
    assert not any(name.startswith(("VERIFYKIT", "AWS")) for name in report["environ"])
    # stdin, stdout (now stderr), stderr, the answer pipe and the listing itself
    assert len(report["descriptors"]) <= 5
    assert held not in report["descriptors"] or held <= 4


def test_a_worker_runs_under_a_memory_and_a_cpu_limit(pool_of: Callable[..., FaceWorkers]) -> None:
    import resource

    report = pool_of(memory_bytes=256 << 20, cpu_seconds=3).submit(worker_report).result()
    assert report["data_limit"] != resource.RLIM_INFINITY
    assert report["cpu_limit"] != resource.RLIM_INFINITY


# -- limits, deaths and replacements ---------------------------------------------------------------


def test_a_photo_that_runs_past_the_cpu_bound_is_refused_and_its_worker_replaced(
    pool_of: Callable[..., FaceWorkers],
) -> None:
    pool = pool_of(cpu_seconds=1)
    first = pool.submit(worker_report).result()["pid"]
    with pytest.raises(ImageTooCostly) as refused:
        read(pool, photo(OBAMA), costly()).result()
    assert refused.value.rule == "cpu"
    assert read(pool, photo(OBAMA)).result().usable
    assert pool.submit(worker_report).result()["pid"] != first
    status = pool.status()
    assert (status.refused["cpu"], status.replaced, status.alive) == (1, 1, 1)


def test_a_photo_that_stalls_past_the_wall_clock_bound_is_refused(
    pool_of: Callable[..., FaceWorkers],
) -> None:
    pool = pool_of(timeout=1.0)
    running = read(pool, photo(OBAMA), costly())
    pid = wait_for(lambda: pool.pids(busy=True), "a busy worker")[0]
    os.kill(pid, signal.SIGSTOP)  # spends no CPU: only the watchdog can end it
    with pytest.raises(ImageTooCostly) as refused:
        running.result()
    assert refused.value.rule == "time"
    assert read(pool, photo(OBAMA)).result().usable


def test_a_photo_that_needs_more_memory_than_the_bound_is_refused(
    pool_of: Callable[..., FaceWorkers],
) -> None:
    import numpy as np

    pool = pool_of(memory_bytes=64 << 20)
    # 7000 x 7000 grey as an array: 49 MB to receive, three times that as RGB
    big = np.zeros((7000, 7000), np.uint8)
    with pytest.raises(ImageTooCostly) as refused:
        pool.submit(read_face, big, FaceSettings(max_pixels=50_000_000), MultiFace.REJECT).result()
    assert refused.value.rule == "memory"
    assert read(pool, photo(OBAMA)).result().usable
    assert pool.status().refused["memory"] == 1


def test_a_worker_killed_mid_photo_fails_that_call_only(pool_of: Callable[..., FaceWorkers]) -> None:
    pool = pool_of(processes=2, cpu_seconds=60, timeout=120.0)  # only the kill may end it
    pool.start()
    wait_for(lambda: len(pool.pids()) == 2, "two workers")
    doomed = read(pool, photo(OBAMA), costly())
    pid = wait_for(lambda: pool.pids(busy=True), "a busy worker")[0]
    beside = read(pool, photo(OBAMA_OTHER))
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(WorkerLost):
        doomed.result()
    assert beside.result().usable
    assert read(pool, photo(BIDEN)).result().usable
    assert pool.status().lost == 1


def test_a_worker_killed_while_idle_is_replaced_before_the_next_photo(
    pool_of: Callable[..., FaceWorkers],
) -> None:
    pool = pool_of()
    first = pool.submit(worker_report).result()["pid"]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not pool.pids(), "the worker to end")
    assert read(pool, photo(OBAMA)).result().usable
    assert pool.status().replaced == 1
    assert pool.status().lost == 0


def test_a_started_pool_replaces_an_idle_worker_on_its_own(pool_of: Callable[..., FaceWorkers]) -> None:
    pool = pool_of()
    pool.start()
    first = wait_for(lambda: pool.pids(), "the worker to start")[0]
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: pool.pids() and pool.pids()[0] != first, "a new worker")
    assert pool.status().replaced == 1


def test_no_worker_that_can_start_means_a_quick_refusal_and_not_ready(
    pool_of: Callable[..., FaceWorkers], tmp_path: Path
) -> None:
    script = tmp_path / "worker.py"
    script.write_text("raise SystemExit(3)\n")
    pool = pool_of(command=[sys.executable, str(script)])
    pool.start()
    wait_for(lambda: not pool.status().ready, "the failed start")
    with pytest.raises(WorkerLost, match="no face worker can be started"):
        read(pool, photo(OBAMA)).result()
    # Mended (a missing model file put back, say): the pool recovers on its own.
    script.write_text("from verifykit.face._sandbox import main\nmain()\n")
    wait_for(lambda: pool.status().alive == 1, "a started worker")
    assert pool.status().ready
    assert read(pool, photo(OBAMA)).result().usable


def test_a_worker_answer_is_never_unpickled(pool_of: Callable[..., FaceWorkers], tmp_path: Path) -> None:
    """A worker that a hostile photo took over could answer anything; the server reads JSON only."""
    marker = tmp_path / "ran"
    script = tmp_path / "worker.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import json, os, pickle, sys
            def frame(body):
                os.write(1, len(body).to_bytes(4, "big") + body)
            def read():
                size = int.from_bytes(sys.stdin.buffer.read(4), "big")
                return sys.stdin.buffer.read(size)
            read()
            frame(json.dumps({{"ready": True, "pid": os.getpid()}}).encode())
            read()
            class Boom:
                def __reduce__(self):
                    return (open, ({str(marker)!r}, "w"))
            frame(pickle.dumps(Boom()))
            read()
            """
        )
    )
    pool = pool_of(command=[sys.executable, str(script)])
    with pytest.raises(WorkerLost, match="malformed"):
        read(pool, photo(OBAMA)).result()
    assert not marker.exists()


@pytest.mark.parametrize(
    "change",
    [
        {"reason": "approved_by_worker"},
        {"encoding": [0.0] * 127},
        {"encoding": [float("nan")] * 128},
        {"faces": [[1, 2, 3]]},
        {"scale": 2.0},
        {"extra": 1},
    ],
)
def test_a_malformed_reading_is_refused(change: dict[str, Any]) -> None:
    wire = reading_to_wire(read_face(photo(OBAMA), FaceSettings(workers=Workers.THREAD), MultiFace.REJECT))
    assert reading_from_wire(wire).usable
    with pytest.raises(WorkerLost):
        reading_from_wire({**wire, **change})


def test_a_reading_comes_back_exactly(pool_of: Callable[..., FaceWorkers]) -> None:
    import numpy as np

    here = read_face(photo(OBAMA), FaceSettings(workers=Workers.THREAD), MultiFace.REJECT)
    there = read(pool_of(), photo(OBAMA)).result()
    assert there.faces == here.faces and there.quality == here.quality
    assert np.array_equal(there.encoding, here.encoding)  # type: ignore[arg-type]


def test_an_oversized_upload_is_refused_before_it_reaches_a_worker(
    make_face: Callable[..., FaceVerifier],
) -> None:
    fv = make_face(processes=1, max_bytes=1000)
    with pytest.raises(ImageError, match="limit is 1,000"):
        fv.enroll("obama", photo(OBAMA))


def test_a_photo_whose_decoder_runs_out_of_memory_is_refused_for_memory(
    pool_of: Callable[..., FaceWorkers],
) -> None:
    """OpenCV answers a failed allocation like a corrupt file: the worker still says memory."""
    import cv2
    import numpy as np

    pool = pool_of(memory_bytes=32 << 20)
    grey = np.zeros((5000, 5000), np.uint8)
    grey[::7] = 200
    jpeg = cv2.imencode(".jpg", grey)[1].tobytes()  # small file, 75 MB to decode to RGB
    with pytest.raises(ImageTooCostly) as refused:
        read(pool, jpeg, FaceSettings(work_min_side=0)).result()
    assert refused.value.rule == "memory"
    assert read(pool, photo(OBAMA)).result().usable


@pytest.mark.skipif(not _seccomp.supported(), reason="the filter is written for x86-64 Linux")
def test_a_worker_runs_under_a_seccomp_filter(pool_of: Callable[..., FaceWorkers]) -> None:
    assert pool_of().submit(worker_report).result()["seccomp"] == "2"  # SECCOMP_MODE_FILTER


@pytest.mark.skipif(not _seccomp.supported(), reason="the filter is written for x86-64 Linux")
@pytest.mark.parametrize(
    "attempt",
    [
        "socket.socket()",
        "open(TARGET, 'a')",
        "open(TARGET, 'w')",
        "os.unlink(TARGET)",
        "os.kill(os.getppid(), signal.SIGTERM)",
        "subprocess.run(['true'])",
        "os.fork()",
    ],
)
def test_the_seccomp_filter_refuses_what_a_taken_over_worker_would_try(attempt: str, tmp_path: Path) -> None:
    """A worker can read what it needs; it cannot reach the store, touch the server's files,
    signal the server or start a program."""
    target = tmp_path / "audit.log"
    target.write_text("record\n")
    script = textwrap.dedent(
        f"""
        import os, signal, socket, subprocess
        from verifykit.face._seccomp import confine
        TARGET = {str(target)!r}
        assert open(TARGET).read() == "record\\n"
        assert confine()
        try:
            {attempt}
        except PermissionError:
            print("refused")
        else:
            print("allowed")
        assert open(TARGET).read() == "record\\n"  # reading still works
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "refused", out.stderr[-1000:]
    assert target.read_text() == "record\n"
