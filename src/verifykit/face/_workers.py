"""The face workers: a supervised pool of sandboxed processes that read untrusted photos.

Each worker (:mod:`verifykit.face._sandbox`) loads the models once and reads one photo at a
time under limits the operating system enforces. Each has a keeper thread here that hands it one
job, waits for the answer with a wall-clock watchdog, and replaces it whenever it ends: after a
photo broke a limit (the call is refused with :class:`~verifykit.ImageTooCostly`), after a crash
or a kill from outside (:class:`~verifykit.WorkerLost`), or when it could not start. Only the
call in hand fails; the pool is never left broken, and the server process never holds decoded
pixels: photo bytes go out once, a small checked JSON answer comes back.

Why not a library: ``concurrent.futures.ProcessPoolExecutor`` (and loky's executor after it)
breaks for good, failing every pending call, when one worker dies; pebble replaces workers but
bounds wall time only, and neither can say which limit a job broke, run workers without the
parent's environment, or keep an unpickled answer from a compromised worker out of the server.
What that takes is a keeper thread and a pipe per worker, about as much code as the adapter
around a library would be.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from .._errors import ConfigurationError, ImageError, ImageTooCostly, InvalidInput, WorkerLost
from ._models import require_installed
from ._settings import FaceSettings, Workers
from ._work import read_face, reading_from_wire, worker_report

__all__ = ["FaceWorkers", "WorkerLimits", "WorkerStatus", "shared_workers", "shutdown_workers"]

_HEADER = 4
_MAX_ANSWER = 1 << 20  # a reading is about 4 KiB; a worker that sends more is not answering
# Variables a worker may see: enough to find Python and the packages, nothing the server was
# given (a keyring, a bearer token, an audit key), and one thread for each native library, since
# parallelism comes from the workers themselves.
_ENV_KEPT = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT")
_ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENCV_FOR_THREADS_NUM": "1",
}
_RETRY_START = (0.5, 30.0)  # first and longest wait between failed starts
_REFUSED = ("memory", "cpu", "time")
_TAKE_TRIES = 3  # workers a job is offered to when each ends before taking it
_IDLE_CHECK = 1.0  # seconds between looks at an idle worker of a started pool


@dataclass(frozen=True, slots=True)
class WorkerLimits:
    """What one photo may cost a worker: ``memory_bytes`` above what the worker holds once its
    models are loaded, ``cpu_seconds`` of CPU time (whole seconds, as the kernel counts them),
    ``timeout`` seconds of wall-clock time per job, and ``start_timeout`` seconds to start."""

    memory_bytes: int
    cpu_seconds: int
    timeout: float
    start_timeout: float

    @classmethod
    def of(cls, settings: FaceSettings) -> WorkerLimits:
        return cls(
            memory_bytes=settings.worker_memory_bound,
            cpu_seconds=settings.worker_cpu_seconds,
            timeout=settings.worker_timeout_bound,
            start_timeout=settings.worker_start_timeout,
        )


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """The pool at a glance, for health checks and metrics: ``alive`` workers, how many were
    ``replaced`` (ended for any reason and started again), jobs ``refused`` for each limit
    (``memory``, ``cpu``, ``time``), jobs ``lost`` to crashes and kills, and ``starting_error``:
    why the last start failed, while no start has succeeded since (None otherwise)."""

    processes: int
    alive: int
    replaced: int
    refused: dict[str, int]
    lost: int
    starting_error: str | None

    @property
    def ready(self) -> bool:
        """Whether a photo can be read now, or once a worker that is starting is up."""
        return self.alive > 0 or self.starting_error is None


@dataclass(slots=True)
class _Job:
    name: str
    args: tuple[Any, ...]
    future: Future[Any]


# The functions a flow may send to the workers, by the name the worker knows them by.
_JOBS: dict[Callable[..., Any], str] = {read_face: "read_face", worker_report: "report"}


def _package_root() -> str:
    return str(Path(__file__).resolve().parents[2])


def _worker_env() -> dict[str, str]:
    env = {name: os.environ[name] for name in _ENV_KEPT if name in os.environ}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_root(), env.get("PYTHONPATH")) if p)
    env.update(_ONE_THREAD)
    return env


class _NotStarted(Exception):
    """The worker ended before it acknowledged the job."""


class _Ended(Exception):
    """The worker's pipe closed or timed out before a whole answer came."""

    def __init__(self, timed_out: bool) -> None:
        super().__init__("timed out" if timed_out else "ended")
        self.timed_out = timed_out


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self, command: Sequence[str]) -> None:
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=_worker_env(),
            cwd="/",
            close_fds=True,
            start_new_session=True,  # a terminal's Ctrl-C reaches the server, which ends us
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._in = self.proc.stdin.fileno()
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._in, False)
        self.pid = self.proc.pid
        self.busy = False

    def send(self, body: bytes, deadline: float) -> None:
        self._write(memoryview(len(body).to_bytes(_HEADER, "big")), deadline)
        self._write(memoryview(body), deadline)  # not joined to the header: no third copy of a photo

    def _write(self, view: memoryview, deadline: float) -> None:
        while view:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([], [self._in], [], wait)[1]:
                raise _Ended(timed_out=True)
            try:
                view = view[os.write(self._in, view) :]
            except BrokenPipeError:
                raise _Ended(timed_out=False) from None

    def _read(self, size: int, deadline: float) -> bytes:
        chunks: list[bytes] = []
        while size:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([self._out], [], [], wait)[0]:
                raise _Ended(timed_out=True)
            chunk = os.read(self._out, min(size, 1 << 16))
            if not chunk:
                raise _Ended(timed_out=False)
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    def receive(self, deadline: float) -> dict[str, Any]:
        size = int.from_bytes(self._read(_HEADER, deadline), "big")
        if size > _MAX_ANSWER:
            raise WorkerLost("a face worker sent an oversized answer")
        try:
            message = json.loads(self._read(size, deadline))
        except ValueError:
            raise WorkerLost("a face worker sent a malformed answer") from None
        if not isinstance(message, dict):
            raise WorkerLost("a face worker sent a malformed answer")
        return message

    def end(self) -> int:
        """Stop the process (if it still runs) and return how it ended."""
        if self.proc.poll() is None:
            self.proc.kill()
        code = self.proc.wait()
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()
        return code

    def close(self, grace: float) -> None:
        """Ask the worker to finish (its stdin closes), then make sure it does."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(grace)
        self.end()


def _error(answer: dict[str, Any]) -> Exception:
    """The library error a worker reported for a photo."""
    code, message = answer.get("error"), answer.get("message")
    if not isinstance(message, str):
        message = "the photo could not be read"
    message = message[:500]
    if code == ImageError.code:
        return ImageError(message, field="image")
    if code == InvalidInput.code:
        field = answer.get("field")
        return InvalidInput(message, field=field if isinstance(field, str) else None)
    if code == ConfigurationError.code:
        return ConfigurationError(message)
    return ImageError(f"the photo could not be read: the decoder failed ({message})", field="image")


def _ended_by(code: int, timed_out: bool) -> Exception:
    if timed_out:
        return ImageTooCostly("reading the photo took longer than a face worker may take", rule="time")
    if code == -signal.SIGXCPU:
        return ImageTooCostly("reading the photo took more CPU time than a face worker may use", rule="cpu")
    how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit status {code}"
    return WorkerLost(f"the face worker reading the photo ended ({how}); it has been replaced")


class _Backoff:
    """When a keeper may next try to start its worker, after failed starts."""

    def __init__(self) -> None:
        self._delay = _RETRY_START[0]
        self._next = 0.0

    def due(self) -> bool:
        return time.monotonic() >= self._next

    def wait(self) -> float:
        return max(self._next - time.monotonic(), 0.0)

    def failed(self) -> None:
        self._next = time.monotonic() + self._delay
        self._delay = min(self._delay * 2, _RETRY_START[1])

    def reset(self) -> None:
        self._delay, self._next = _RETRY_START[0], 0.0


class FaceWorkers(Executor):
    """A pool of ``processes`` sandboxed face workers under ``limits``.

    An :class:`~concurrent.futures.Executor` for the flows' face work (``submit(read_face, ...)``),
    so both drivers use it as they would any pool. A future its worker answered carries
    ``worker_seconds`` and ``worker_cpu_seconds``: the wall-clock and CPU time the worker spent
    inside the job (the rest of the wall-clock time was the trip).
    Workers start on first use, or all at once with :meth:`start` (a server, so its health is
    known before the first photo).
    """

    def __init__(self, processes: int, limits: WorkerLimits, *, command: Sequence[str] | None = None) -> None:
        if processes < 1:
            raise ConfigurationError("a face worker pool needs at least one process")
        self.processes = processes
        self.limits = limits
        self._command = list(command or (sys.executable, "-m", "verifykit.face._sandbox"))
        self._jobs: SimpleQueue[_Job | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._keepers: list[threading.Thread] = []
        self._workers: dict[int, _Worker] = {}  # by keeper index
        self._prestart = False
        self._closed = False
        self._ever_started: set[int] = set()
        self._replaced = 0
        self._refused: Counter[str] = Counter()
        self._lost = 0
        self._starting_error: str | None = None

    # -- Executor --------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if isinstance(fn, functools.partial):  # what loop.run_in_executor is given
            part: functools.partial[Any] = fn
            fn, args, kwargs = part.func, (*part.args, *args), {**part.keywords, **kwargs}
        name = _JOBS.get(fn)
        if name is None or kwargs:
            raise TypeError(f"face workers run only {sorted(_JOBS.values())}, with positional arguments")
        future: Future[Any] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the face workers have been shut down")
            self._spawn_keepers()
        self._jobs.put(_Job(name, args, future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            keepers = list(self._keepers)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except Empty:
                    break
                if job is not None:
                    job.future.cancel()
        for _ in keepers:
            self._jobs.put(None)
        if wait:
            for keeper in keepers:
                keeper.join()

    # -- supervision -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start every worker now, and keep trying while starts fail (for health checks)."""
        with self._lock:
            self._prestart = True
            self._spawn_keepers()

    def status(self) -> WorkerStatus:
        with self._lock:
            alive = sum(1 for w in self._workers.values() if w.proc.poll() is None)
            return WorkerStatus(
                processes=self.processes,
                alive=alive,
                replaced=self._replaced,
                refused={limit: self._refused[limit] for limit in _REFUSED},
                lost=self._lost,
                starting_error=self._starting_error,
            )

    def pids(self, *, busy: bool | None = None) -> list[int]:
        """The process ids of the live workers (only the busy or idle ones, if asked).

        A worker is busy once it has said it took a job: one that ends before then leaves the
        job intact, to be run by its replacement."""
        with self._lock:
            return [
                w.pid
                for w in self._workers.values()
                if w.proc.poll() is None and (busy is None or w.busy == busy)
            ]

    def _spawn_keepers(self) -> None:
        while len(self._keepers) < self.processes:
            keeper = threading.Thread(
                target=self._keep,
                args=(len(self._keepers),),
                name=f"verifykit-face-worker-{len(self._keepers)}",
                daemon=True,
            )
            self._keepers.append(keeper)
            keeper.start()

    def _start(self, slot: int) -> _Worker:
        try:
            worker = _Worker(self._command)
        except OSError as exc:
            raise self._failed_start(f"cannot run {self._command[0]}: {exc.strerror}") from exc
        deadline = time.monotonic() + self.limits.start_timeout
        setup = {"memory_bytes": self.limits.memory_bytes, "cpu_seconds": self.limits.cpu_seconds}
        try:
            worker.send(pickle.dumps(setup), deadline)
            hello = worker.receive(deadline)
        except (_Ended, WorkerLost) as exc:
            code = worker.end()
            raise self._failed_start(f"the worker did not start ({exc}, exit {code})") from None
        if hello.get("ready") is not True:
            worker.end()
            error = hello.get("error")
            raise self._failed_start(str(error)[:500] if error else "the worker did not start")
        with self._lock:
            self._workers[slot] = worker
            self._replaced += slot in self._ever_started
            self._ever_started.add(slot)
            self._starting_error = None
        return worker

    def _failed_start(self, why: str) -> WorkerLost:
        with self._lock:
            self._starting_error = why
        return WorkerLost(f"no face worker can be started: {why}", retry_after=_RETRY_START[0])

    def _replace(self, slot: int) -> None:
        """End the slot's worker, to be started again."""
        with self._lock:
            worker = self._workers.pop(slot, None)
        if worker is not None:
            worker.end()

    def _live(self, slot: int) -> _Worker | None:
        """The slot's worker, unless it ended while idle (a kill from outside, the OOM killer):
        then it is dropped, to be replaced, and no call was in it."""
        worker = self._workers.get(slot)
        if worker is not None and worker.proc.poll() is not None:
            self._replace(slot)
            return None
        return worker

    def _keep(self, slot: int) -> None:
        """One keeper thread: start its worker, feed it jobs one at a time, replace it when it ends."""
        retry = _Backoff()
        while True:
            if self._prestart or self._starting_error is None:
                self._ensure(slot, retry)
            try:
                job = self._jobs.get(timeout=_IDLE_CHECK if self._prestart else None)
            except Empty:
                continue
            if job is None:
                break
            if job.future.set_running_or_notify_cancel():
                self._serve(slot, retry, job)
        worker = self._workers.pop(slot, None)
        if worker is not None:
            worker.close(grace=2.0)

    def _ensure(self, slot: int, retry: _Backoff) -> _Worker | None:
        """The slot's live worker, started now if there is none and the back-off allows."""
        worker = self._live(slot)
        if worker is None and retry.due():
            try:
                worker = self._start(slot)
            except WorkerLost:
                retry.failed()
            else:
                retry.reset()
        return worker

    def _serve(self, slot: int, retry: _Backoff, job: _Job) -> None:
        try:
            worker = self._ensure(slot, retry)
            if worker is None:
                # Refused at once rather than kept waiting on a setup that does not start.
                raise WorkerLost(
                    f"no face worker can be started: {self._starting_error}", retry_after=retry.wait()
                )
            result = self._run_started(slot, retry, worker, job)
        except BaseException as exc:
            job.future.set_exception(exc)
        else:
            job.future.set_result(result)

    def _run_started(self, slot: int, retry: _Backoff, worker: _Worker, job: _Job) -> Any:
        """Run ``job``; a worker that ended before it took the job (it died while idle, just as
        the job came) costs the job nothing: a fresh worker takes it."""
        for _ in range(_TAKE_TRIES):
            try:
                return self._run(slot, worker, job)
            except _NotStarted:
                fresh = self._ensure(slot, retry)
                if fresh is None:
                    break
                worker = fresh
        raise WorkerLost(f"no face worker could take the photo: {self._starting_error or 'they ended'}")

    def _run(self, slot: int, worker: _Worker, job: _Job) -> Any:
        deadline = time.monotonic() + self.limits.timeout
        body = pickle.dumps((job.name, job.args), protocol=pickle.HIGHEST_PROTOCOL)
        started = False
        try:
            worker.send(body, deadline)
            answer = worker.receive(deadline)
            if answer == {"started": True}:
                started = worker.busy = True  # busy from the moment it took the job, not before
                answer = worker.receive(deadline)
        except _Ended as ended:
            self._replace(slot)
            code = worker.proc.returncode  # set as it was ended
            if not started and not ended.timed_out:
                raise _NotStarted from None  # it ended before it took the job: the job is intact
            error = _ended_by(code, ended.timed_out)
            self._count(error)
            raise error from None
        except WorkerLost as lost:
            self._replace(slot)
            self._count(lost)
            raise
        finally:
            worker.busy = False
        for name in ("seconds", "cpu_seconds"):
            value = answer.get(name)
            if isinstance(value, float):
                setattr(job.future, f"worker_{name}", value)
        if "ok" in answer:
            return self._decode(job.name, answer["ok"])
        if answer.get("refused") == "memory":
            self._replace(slot)
            error = ImageTooCostly(
                "reading the photo needed more memory than a face worker may use", rule="memory"
            )
            self._count(error)
            raise error
        raise _error(answer)

    def _count(self, error: Exception) -> None:
        with self._lock:
            if isinstance(error, ImageTooCostly):
                self._refused[error.rule] += 1
            else:
                self._lost += 1

    @staticmethod
    def _decode(name: str, value: object) -> Any:
        if name == "read_face":
            return reading_from_wire(value)
        return value


# -- the pools verifiers share ---------------------------------------------------------------------

_shared: dict[tuple[int, WorkerLimits], FaceWorkers] = {}
_shared_lock = threading.Lock()


def shared_workers(settings: FaceSettings) -> FaceWorkers | None:
    """The pool every verifier and index of this process with these worker settings uses (None
    for ``workers="thread"``). Started on first use; ended at exit or by :func:`shutdown_workers`."""
    if settings.workers is not Workers.PROCESS:
        return None
    require_installed()
    key = (settings.processes or os.cpu_count() or 1, WorkerLimits.of(settings))
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None or pool._closed:
            pool = _shared[key] = FaceWorkers(key[0], key[1])
        return pool


def shutdown_workers() -> None:
    """End every shared face worker (they start again on the next photo)."""
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for pool in pools:
        pool.shutdown(wait=True)


atexit.register(shutdown_workers)
