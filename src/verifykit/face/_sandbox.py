"""A face worker process: where untrusted photos are probed, decoded, detected and encoded.

The decoders (libjpeg-turbo, libpng, libwebp inside OpenCV) and dlib are C and C++ reading
hostile input, so they run here and never in the process that holds keys, tokens and the store
connection (Chromium's "Rule of 2"). The operating system has the last word on what one photo may
cost, not our own parsing:

- memory: ``RLIMIT_DATA`` (every private writable mapping: the heap and anonymous ``mmap``),
  set once the models are loaded to what the worker holds then plus its bound. A decoder that
  asks for more gets a failed allocation; the worker reports ``memory`` and exits, to be replaced.
  ``RLIMIT_AS`` is not used: it also counts the mappings of the libraries and address space
  reserved but never touched (a loaded worker here: about 530 MiB of address space against
  280 MiB of data), which vary with the build and the threads; ``RLIMIT_DATA`` bounds what a
  decoder can actually grow.
- CPU: before each job the soft ``RLIMIT_CPU`` is set to the CPU time used so far plus the job's
  bound; the kernel ends a job that runs past it with ``SIGXCPU``. The server's wall-clock
  watchdog backs it up for a worker that stops without spending CPU.
- nothing else: no core files, no file writes (``RLIMIT_FSIZE`` 0), few descriptors, an
  environment without the server's secrets, and ``/`` as the working directory; and, once the
  models are loaded, a seccomp filter (:mod:`verifykit.face._seccomp`) that refuses sockets,
  new processes and programs, signals and traces of other processes, and writes to files.

The protocol is frames of a 4-byte big-endian length and a body, on stdin and the original
stdout (anything a library prints goes to stderr). The server sends pickles (this process trusts
its server); this process answers in JSON only (the server does not trust it).
"""

from __future__ import annotations

import json
import math
import os
import pickle
import resource
import sys
import time
from typing import Any, BinaryIO

from ._seccomp import confine

__all__ = ["main"]

_HEADER = 4
_MAX_FILES = 64
# What failed allocations look like from the native libraries: numpy's MemoryError, OpenCV's
# "Insufficient memory" / "Failed to allocate", C++'s std::bad_alloc through dlib's bindings.
_OOM_TEXT = ("insufficient memory", "failed to allocate", "bad_alloc", "out of memory", "cannot allocate")


def _read_frame(stream: BinaryIO) -> bytes | None:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    return body if len(body) == size else None


def _write_frame(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message, allow_nan=False).encode()
    data = len(body).to_bytes(_HEADER, "big") + body
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _data_bytes() -> int:
    """This process's private writable memory (what ``RLIMIT_DATA`` counts), in bytes."""
    from ._work import status_field

    return int(status_field("VmData").split()[0]) * 1024


def _limit(kind: int, value: int) -> None:
    _soft, hard = resource.getrlimit(kind)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(kind, (value, value))


def _confine(memory_bytes: int) -> int:
    """Set the limits that hold for the worker's whole life; returns its memory limit."""
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_FSIZE, 0)
    _limit(resource.RLIMIT_NOFILE, _MAX_FILES)
    limit = _data_bytes() + memory_bytes
    _limit(resource.RLIMIT_DATA, limit)
    return limit


def _arm_cpu(seconds: int) -> None:
    """Let the next job use ``seconds`` of CPU from now (the soft limit; the kernel counts it)."""
    soft = math.ceil(_cpu()) + seconds
    _soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _out_of_memory(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    text = str(exc).lower()
    return any(marker in text for marker in _OOM_TEXT)


def _run(job: str, args: tuple[Any, ...]) -> Any:
    if job == "read_face":
        from ._work import read_face, reading_to_wire

        return reading_to_wire(read_face(*args))
    if job == "report":
        from ._work import worker_report

        return worker_report()
    raise ValueError(f"unknown job {job!r}")


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _answer(job: str, args: tuple[Any, ...]) -> dict[str, Any]:
    """The job's outcome, and the wall-clock and CPU seconds it took here."""
    from .._errors import VerifyKitError

    wall, cpu = time.perf_counter(), _cpu()
    answer: dict[str, Any]
    try:
        answer = {"ok": _run(job, args)}
    except Exception as exc:
        if _out_of_memory(exc):
            answer = {"refused": "memory"}
        elif isinstance(exc, VerifyKitError):
            answer = {"error": exc.code, "message": exc.message, "field": getattr(exc, "field", None)}
        else:
            answer = {"error": "decoder", "message": type(exc).__name__}
    answer.update(seconds=time.perf_counter() - wall, cpu_seconds=_cpu() - cpu)
    return answer


def main() -> None:
    out = os.dup(1)  # the answer channel; stray prints from the libraries go to stderr
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    first = _read_frame(stdin)
    if first is None:
        return
    setup: dict[str, int] = pickle.loads(first)  # noqa: S301 - from the server that started us
    try:
        import cv2

        from ._models import warm_up

        cv2.setNumThreads(1)
        warm_up()
        limit = _confine(setup["memory_bytes"])
        filtered = confine()
    except Exception as exc:
        _write_frame(out, {"ready": False, "error": f"{type(exc).__name__}: {exc}"})
        return
    _write_frame(out, {"ready": True, "pid": os.getpid(), "data_limit": limit, "seccomp": filtered})
    while True:
        try:
            frame = _read_frame(stdin)
            if frame is None:
                return
            _write_frame(out, {"started": True})  # from here on, an ending is this job's doing
            job, args = pickle.loads(frame)  # noqa: S301 - from the server that started us
        except MemoryError:
            answer: dict[str, Any] = {"refused": "memory"}
        else:
            del frame
            _arm_cpu(setup["cpu_seconds"])
            answer = _answer(job, args)
            del args
        _write_frame(out, answer)
        if "refused" in answer:
            return  # a failed allocation may leave a native library half-done: start afresh


if __name__ == "__main__":
    main()
